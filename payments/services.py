"""Payments: charge an order once, refund or void it when the order is cancelled.

The ``Payment`` row (one per order) is locked by both services, so a charge and a
cancellation of the same order never interleave: a cancellation that comes first
voids the payment and the charge then does nothing; one that comes after a capture
refunds it.

Every call to the gateway about an order's charge uses one key, ``charge_key``: each
charge attempt and the void name the same charge, so the gateway, not our rows, says
whether money was taken. That matters when a charge was captured but its answer
lost (the worker died between the gateway call and our commit, or the call timed
out): our row still says pending, and a void finds and refunds the capture.
"""

from django.db import transaction

from events import selectors as event_selectors
from events import services as events
from orders import selectors as order_selectors
from orders.signals import order_placed
from project.faults import crash_point

from .gateways import get_gateway
from .models import Payment
from .signals import payment_captured, payment_failed, payment_refunded


def _lock_payment(*, order_id: int) -> Payment:
    """The order's payment, locked; made (for the order's total) by whichever of the
    charge and the settle comes first."""
    payment = Payment.objects.select_for_update().filter(order_id=order_id).first()
    if payment is not None:
        return payment
    amount, currency = order_selectors.amount_of(order_id)
    payment, _ = Payment.objects.select_for_update().get_or_create(
        order_id=order_id, defaults={"amount": amount, "currency": currency, "gateway": get_gateway().name}
    )
    return payment


def charge_key(order_id: int) -> str:
    """The gateway idempotency key of the order's one charge: its ``order.placed``
    event's key (unique across databases, unlike the order id)."""
    key = event_selectors.key_of(order_placed, order_id=order_id)
    if key is None:
        raise LookupError(f"order {order_id} has no order.placed event")
    return key


@transaction.atomic
def charge_order(*, order_id: int, token: str) -> Payment:
    """Charge the order through the gateway and record ``payment.captured`` or
    ``payment.failed``.

    Idempotent: a payment already decided (captured, failed, voided) is returned as
    it is, and the gateway is called with ``charge_key`` so a charge repeated after a
    crash returns the first charge instead of taking the money twice. An order
    cancelled before its charge ran is voided, never charged.
    Raises ``GatewayUnavailable`` on a transient failure; nothing is written then.
    """
    payment = _lock_payment(order_id=order_id)
    if payment.status != Payment.Status.PENDING:
        return payment
    if order_selectors.status_of(order_id) == "cancelled":
        # Cancelled while this charge waited in the queue (it is ahead of the
        # cancellation's settle task): void it instead of charging and refunding.
        return _void(payment, order_id=order_id)
    result = get_gateway().charge(
        amount=payment.amount, currency=payment.currency, token=token, idempotency_key=charge_key(order_id)
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
    found = get_gateway().void(idempotency_key=charge_key(order_id))
    if found.refund_id:
        return _refunded(payment, order_id=order_id, charge_id=found.charge_id, refund_id=found.refund_id)
    payment.status = Payment.Status.VOIDED
    payment.save(update_fields=["status", "updated_at"])
    return payment


def _refunded(payment: Payment, *, order_id: int, charge_id: str, refund_id: str) -> Payment:
    payment.status = Payment.Status.REFUNDED
    payment.charge_id = charge_id
    payment.refund_id = refund_id
    payment.save()
    events.record(
        payment_refunded,
        order_id=order_id,
        payment_id=payment.pk,
        amount=payment.amount,
        currency=payment.currency,
        refund_id=refund_id,
    )
    return payment
