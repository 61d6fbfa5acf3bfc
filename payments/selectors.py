from collections.abc import Iterable

from django.db.models import QuerySet

from project.admin_helpers import admin_url

from .models import Payment

# The statuses other apps compare ``payment_status_by_order``'s answers with.
PaymentStatus = Payment.Status


def payments_with_outcome() -> QuerySet[Payment]:
    """Payments the gateway decided (captured, declined, or captured and refunded
    since): a subquery for other apps, e.g. "has this pending order's payment an
    outcome?". A payment's status and its outcome event commit together."""
    return Payment.objects.filter(status__in=(Payment.Status.CAPTURED, Payment.Status.FAILED, Payment.Status.REFUNDED))


def payment_details(order_id: int) -> dict | None:
    """The order's payment as staff pages show it (None if there is none yet)."""
    payment = Payment.objects.filter(order_id=order_id).first()
    if payment is None:
        return None
    return {
        "status": PaymentStatus(payment.status),
        "status_label": payment.get_status_display(),
        "amount": payment.amount,
        "currency": payment.currency,
        "gateway": payment.gateway,
        "charge_id": payment.charge_id,
        "refund_id": payment.refund_id,
        "failure_reason": payment.failure_reason,
        "updated_at": payment.updated_at,
        "admin_url": admin_url(payment),
    }


def payment_status_by_order(order_ids: Iterable[int]) -> dict[int, PaymentStatus]:
    """The status of each order's payment (an order has at most one); orders with
    no payment are left out."""
    rows = Payment.objects.filter(order_id__in=list(order_ids)).values_list("order_id", "status")
    return {order_id: PaymentStatus(status) for order_id, status in rows}
