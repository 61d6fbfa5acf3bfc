"""Customer profiles and the loyalty points ledger."""

from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction

from .models import Customer, PointsEntry


@transaction.atomic
def create_customer(*, user) -> Customer:
    """The profile every registered user gets; idempotent per user."""
    customer, _ = Customer.objects.get_or_create(user=user)
    return customer


def points_for(total: Decimal) -> int:
    """One point per whole currency unit of the total (configurable rate)."""
    return int(Decimal(total).to_integral_value(rounding=ROUND_DOWN)) * settings.LOYALTY_POINTS_PER_UNIT


@transaction.atomic
def award_points_for_paid_order(*, customer_id: int, order_id: int, total: Decimal) -> PointsEntry | None:
    """Credit the points a paid order earns. Idempotent per order: a second call
    returns the existing entry and writes nothing."""
    points = points_for(total)
    if points <= 0:
        return None
    entry, _ = PointsEntry.objects.get_or_create(
        order_id=order_id,
        reason=PointsEntry.Reason.ORDER_PAID,
        defaults={"customer_id": customer_id, "amount": points},
    )
    return entry


@transaction.atomic
def revoke_points_for_cancelled_order(*, order_id: int) -> PointsEntry | None:
    """Take back what a since-cancelled order earned; nothing if it earned nothing.
    Idempotent per order."""
    award = PointsEntry.objects.filter(order_id=order_id, reason=PointsEntry.Reason.ORDER_PAID).first()
    if award is None:
        return None
    entry, _ = PointsEntry.objects.get_or_create(
        order_id=order_id,
        reason=PointsEntry.Reason.ORDER_CANCELLED,
        defaults={"customer_id": award.customer_id, "amount": -award.amount},
    )
    return entry


def customer_for(user) -> Customer:
    """The user's profile, created on first use (staff accounts made with
    ``createsuperuser`` have none until they shop)."""
    return create_customer(user=user)
