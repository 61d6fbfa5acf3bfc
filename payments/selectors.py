from collections.abc import Iterable

from django.db.models import QuerySet

from .models import Payment

# The statuses other apps compare ``payment_status_by_order``'s answers with.
PaymentStatus = Payment.Status


def payments_with_outcome() -> QuerySet[Payment]:
    """Payments the gateway decided (captured, declined, or captured and refunded
    since): a subquery for other apps, e.g. "has this pending order's payment an
    outcome?". A payment's status and its outcome event commit together."""
    return Payment.objects.filter(status__in=(Payment.Status.CAPTURED, Payment.Status.FAILED, Payment.Status.REFUNDED))


def payment_status_by_order(order_ids: Iterable[int]) -> dict[int, PaymentStatus]:
    """The status of each order's payment (an order has at most one); orders with
    no payment are left out."""
    rows = Payment.objects.filter(order_id__in=list(order_ids)).values_list("order_id", "status")
    return {order_id: PaymentStatus(status) for order_id, status in rows}
