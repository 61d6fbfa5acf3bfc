from collections.abc import Iterable

from .models import Payment


def payment_status_by_order(order_ids: Iterable[int]) -> dict[int, str]:
    """The status of each order's payment (an order has at most one); orders with
    no payment are left out."""
    return dict(Payment.objects.filter(order_id__in=list(order_ids)).values_list("order_id", "status"))
