from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet

from .models import EmailRecord, Notification

if TYPE_CHECKING:
    from customers.selectors import Customer


def notifications_of(customer: "Customer | None") -> QuerySet[Notification]:
    if customer is None:
        return Notification.objects.none()
    return Notification.objects.filter(customer=customer).order_by("-created_at", "-id")


def notification_of(customer: "Customer | None", notification_id: int) -> Notification | None:
    return notifications_of(customer).filter(pk=notification_id).first()


def messages_by_order(order_ids: Iterable[int], kind: str) -> dict[int, tuple[int, int]]:
    """Per order id: how many in-app notifications and how many emails of ``kind``
    it got (orders with neither are left out)."""
    ids = list(order_ids)
    counts: dict[int, tuple[int, int]] = {}
    for row in Notification.objects.filter(order_id__in=ids, kind=kind).values("order_id").annotate(n=Count("id")):
        counts[row["order_id"]] = (row["n"], 0)
    for row in EmailRecord.objects.filter(order_id__in=ids, kind=kind).values("order_id").annotate(n=Count("id")):
        counts[row["order_id"]] = (counts.get(row["order_id"], (0, 0))[0], row["n"])
    return counts
