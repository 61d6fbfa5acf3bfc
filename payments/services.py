"""Payments: charge an order once, refund or void it when the order is cancelled.

The ``Payment`` row (one per order) is locked by both services, so a charge and a
cancellation of the same order never interleave: a cancellation that comes first
voids the payment and the charge then does nothing; one that comes after a capture
refunds it.
"""

from decimal import Decimal

from django.db import transaction

from events import services as events
from orders import selectors as order_selectors
from project.faults import crash_point

from .gateways import get_gateway
from .models import Payment
from .signals import payment_captured, payment_failed, payment_refunded


def _lock_payment(*, order_id: int, amount: Decimal = Decimal("0"), currency: str = "") -> Payment:
    payment, _ = Payment.objects.select_for_update().get_or_create(
        order_id=order_id, defaults={"amount": amount, "currency": currency, "gateway": get_gateway().name}
    )
    return payment


@transaction.atomic
def charge_order(*, order_id: int, amount: Decimal, currency: str, token: str, idempotency_key: str) -> Payment:
    """Charge the order through the gateway and record ``payment.captured`` or
    ``payment.failed``.

    Idempotent: a payment already decided (captured, failed, voided) is returned as
    it is, and the gateway is called with ``idempotency_key`` so a charge repeated
    after a crash returns the first charge instead of taking the money twice. An
    order cancelled before its charge ran is voided, never charged.
    Raises ``GatewayUnavailable`` on a transient failure; nothing is written then.
    """
    payment = _lock_payment(order_id=order_id, amount=Decimal(amount), currency=currency)
    if payment.status != Payment.Status.PENDING:
        return payment
    if order_selectors.status_of(order_id) == "cancelled":
        # Cancelled while this charge waited in the queue (it is ahead of the
        # cancellation's settle task): void it instead of charging and refunding.
        payment.status = Payment.Status.VOIDED
        payment.save(update_fields=["status", "updated_at"])
        return payment
    result = get_gateway().charge(
        amount=payment.amount, currency=currency, token=token, idempotency_key=idempotency_key
    )
    # Fault tests: die with the money taken and nothing written (project/faults.py).
    crash_point("payments.after_charge")
    payment.charge_id = result.charge_id
    if result.captured:
        payment.status = Payment.Status.CAPTURED
        events.record(
            payment_captured,
            order_id=order_id,
            payment_id=payment.pk,
            amount=payment.amount,
            currency=payment.currency,
            charge_id=result.charge_id,
        )
    else:
        payment.status = Payment.Status.FAILED
        payment.failure_reason = result.decline_reason
        events.record(payment_failed, order_id=order_id, payment_id=payment.pk, reason=result.decline_reason)
    payment.save()
    return payment


@transaction.atomic
def settle_cancelled_order(*, order_id: int, idempotency_key: str) -> Payment:
    """The order was cancelled: refund a captured payment (recording
    ``payment.refunded``), or void one not yet charged so it never will be.
    Idempotent: a refunded, voided or failed payment is left as it is."""
    payment = _lock_payment(order_id=order_id)
    if payment.status == Payment.Status.PENDING:
        payment.status = Payment.Status.VOIDED
        payment.save(update_fields=["status", "updated_at"])
    elif payment.status == Payment.Status.CAPTURED:
        refund = get_gateway().refund(
            charge_id=payment.charge_id, amount=payment.amount, idempotency_key=idempotency_key
        )
        payment.status = Payment.Status.REFUNDED
        payment.refund_id = refund.refund_id
        payment.save(update_fields=["status", "refund_id", "updated_at"])
        events.record(
            payment_refunded,
            order_id=order_id,
            payment_id=payment.pk,
            amount=payment.amount,
            currency=payment.currency,
            refund_id=refund.refund_id,
        )
    return payment
