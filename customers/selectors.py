from dataclasses import dataclass

from django.db.models import QuerySet, Sum

from .models import Customer, PointsEntry


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


def customer_of(user) -> Customer | None:
    """The user's shopper profile; None for a staff account that never shopped."""
    return Customer.objects.filter(user=user).first() if user.is_authenticated else None
