"""Payments: charge an order once, refund or void it when the order is cancelled.

The ``Payment`` row (one per order) is locked by both services, so a charge and a
cancellation of the same order never interleave: a cancellation that comes first
voids the payment and the charge then does nothing; one that comes after a capture
refunds it.

Every call to the gateway about an order's charge uses one key, the order's
``charge_key`` (kept on the order, and on its payment once made): each
charge attempt and the void name the same charge, so the gateway, not our rows, says
whether money was taken. That matters when a charge was captured but its answer
lost (the worker died between the gateway call and our commit, or the call timed
out): our row still says pending, and a void finds and refunds the capture.

Services that a handler calls join its transaction whole (``atomic(savepoint=False)``):
the effect and the run's done-mark commit together or not at all, and a failure rolls
back the caller's transaction with it, without a savepoint's two extra round trips.
Called on their own, they are a transaction of their own.
"""

from decimal import Decimal

from django.db import transaction

from events import services as events
from orders import selectors as order_selectors
from orders import services as order_services
from project.faults import crash_point

from .gateways import get_gateway
from .models import Payment
from .signals import PaymentCaptured, PaymentFailed, PaymentRefunded


def _lock_payment(
    *, order_id: int, key: str | None = None, amount: Decimal | None = None, currency: str | None = None
) -> Payment:
    """The order's payment, locked; made by whichever of the charge and the settle
    comes first, for the order's total and under the order's charge key (``key``: the
    caller's, or looked up). An INSERT that does nothing if the row exists, then the
    locking read: no savepoint, no race between a charge and a settle making it."""
    if key is None and not Payment.objects.filter(order_id=order_id).exists():
        key = order_selectors.charge_key_of(order_id)
    if key is not None:
        if amount is None or currency is None:
            amount, currency = order_selectors.amount_of(order_id)
        made = Payment(order_id=order_id, amount=amount, currency=currency, gateway=get_gateway().name, charge_key=key)
        Payment.objects.bulk_create([made], ignore_conflicts=True)
    return Payment.objects.select_for_update().get(order_id=order_id)


@transaction.atomic(savepoint=False)
def charge_order(
    *, order_id: int, token: str, key: str, amount: Decimal | None = None, currency: str | None = None
) -> Payment:
    """Charge the order through the gateway and record ``payment.captured`` or
    ``payment.failed``.

    Idempotent: a payment already decided (captured, failed, voided) is returned as
    it is, and the gateway is called with the order's charge key (``key``: the
    order's, which its ``order.placed`` event carries), so a charge repeated after a crash returns the first
    charge instead of taking the money twice. An order cancelled before its charge ran
    is voided, never charged. ``amount`` and ``currency``, the order's total, save a
    lookup when the caller knows them. Raises ``GatewayUnavailable`` on a transient
    failure; nothing is written then.
    """
    payment = _lock_payment(order_id=order_id, key=key, amount=amount, currency=currency)
    if payment.status != Payment.Status.PENDING:
        return payment
    if order_selectors.is_cancelled(order_id):
        # Cancelled while this charge waited in the queue (it is ahead of the
        # cancellation's settle task): void it instead of charging and refunding.
        return _void(payment, order_id=order_id)
    result = get_gateway().charge(
        amount=payment.amount, currency=payment.currency, token=token, idempotency_key=payment.charge_key
    )
    # Fault tests: die with the money taken and nothing written (project/faults.py).
    crash_point("payments.after_charge")
    payment.charge_id = result.charge_id
    # The order's events commit in id order (order_services.hold_for_events): taken
    # after the gateway call, so a cancellation never waits for the gateway.
    order_services.hold_for_events(order_id=order_id)
    if result.captured:
        payment.status = Payment.Status.CAPTURED
        events.record(
            PaymentCaptured(
                order_id=order_id,
                payment_id=payment.pk,
                amount=payment.amount,
                currency=payment.currency,
                charge_id=result.charge_id,
            )
        )
    else:
        payment.status = Payment.Status.FAILED
        payment.failure_reason = result.decline_reason
        events.record(PaymentFailed(order_id=order_id, payment_id=payment.pk, reason=result.decline_reason))
    payment.save(update_fields=["status", "charge_id", "failure_reason", "updated_at"])
    return payment


@transaction.atomic(savepoint=False)
def settle_cancelled_order(*, order_id: int, idempotency_key: str) -> Payment:
    """The order was cancelled: refund a captured payment (recording
    ``payment.refunded``), or void one not yet charged so it never will be.
    Idempotent: a refunded, voided or failed payment is left as it is."""
    payment = _lock_payment(order_id=order_id)
    if payment.status == Payment.Status.PENDING:
        return _void(payment, order_id=order_id)
    if payment.status == Payment.Status.CAPTURED:
        refund = get_gateway().refund(
            charge_id=payment.charge_id, amount=payment.amount, idempotency_key=idempotency_key
        )
        _refunded(payment, order_id=order_id, charge_id=payment.charge_id, refund_id=refund.refund_id)
    return payment


def _void(payment: Payment, *, order_id: int) -> Payment:
    """A pending payment of a cancelled order: tell the gateway the charge must take
    no money. If an earlier attempt did capture (its answer lost), that is refunded
    and ``payment.refunded`` recorded; otherwise the payment is voided."""
    found = get_gateway().void(idempotency_key=payment.charge_key)
    if found.refund_id:
        return _refunded(payment, order_id=order_id, charge_id=found.charge_id, refund_id=found.refund_id)
    payment.status = Payment.Status.VOIDED
    payment.save(update_fields=["status", "updated_at"])
    return payment


def _refunded(payment: Payment, *, order_id: int, charge_id: str, refund_id: str) -> Payment:
    order_services.hold_for_events(order_id=order_id)
    payment.status = Payment.Status.REFUNDED
    payment.charge_id = charge_id
    payment.refund_id = refund_id
    payment.save()
    events.record(
        PaymentRefunded(
            order_id=order_id,
            payment_id=payment.pk,
            amount=payment.amount,
            currency=payment.currency,
            refund_id=refund_id,
        )
    )
    return payment
