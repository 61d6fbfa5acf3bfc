from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet, Sum

from .models import Customer as Customer  # re-exported: the type other apps annotate a customer with
from .models import PointsEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from users.selectors import User


@dataclass(frozen=True)
class Contact:
    customer_id: int
    name: str
    email: str


def points_balance(customer: Customer) -> int:
    return customer.points.aggregate(total=Sum("amount"))["total"] or 0


def points_ledger(customer: Customer | None) -> QuerySet[PointsEntry]:
    if customer is None:
        return PointsEntry.objects.none()
    return customer.points.order_by("-created_at", "-id")


def contact(customer_id: int) -> Contact:
    customer = Customer.objects.select_related("user").get(pk=customer_id)
    user = customer.user
    return Contact(customer_id=customer.pk, name=user.get_full_name() or user.get_username(), email=user.email)


def customer_of(user: "User | AnonymousUser") -> Customer | None:
    """The user's shopper profile; None for a staff account that never shopped. Free
    when the authentication fetched it with the user (``customers.authentication``)."""
    if not user.is_authenticated:
        return None
    try:
        return user.customer
    except Customer.DoesNotExist:
        return None


def net_points_by_order(order_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Per order id: the net points its ledger entries add up to, and how many
    entries there are (orders with none are left out)."""
    rows = (
        PointsEntry.objects.filter(order_id__in=list(order_ids))
        .values("order_id")
        .annotate(net=Sum("amount"), n=Count("id"))
    )
    return {row["order_id"]: (row["net"], row["n"]) for row in rows}


def emails_of(customer_ids: Iterable[int]) -> dict[int, str]:
    """Each customer's email address ("" for none)."""
    return dict(Customer.objects.filter(pk__in=list(customer_ids)).values_list("pk", "user__email"))


def points_awarded_since(*starts: datetime) -> list[int]:
    """Points credited for paid orders since each of ``starts``; one query (indexed by
    ``created_at``)."""
    rows = PointsEntry.objects.filter(reason=PointsEntry.Reason.ORDER_PAID, created_at__gte=min(starts)).aggregate(
        **{f"since_{n}": Sum("amount", filter=Q(created_at__gte=start)) for n, start in enumerate(starts)}
    )
    return [rows[f"since_{n}"] or 0 for n in range(len(starts))]
