"""Customer profiles and the loyalty points ledger.

Services that a handler calls join its transaction whole (``atomic(savepoint=False)``):
the effect and the run's done-mark commit together or not at all, and a failure rolls
back the caller's transaction with it, without a savepoint's two extra round trips.
Called on their own, they are a transaction of their own.
"""

from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction

from .models import Customer, PointsEntry


def get_or_create_customer(user) -> Customer:
    """The user's shopper profile, created on first use: at registration, or when a
    staff account made with ``createsuperuser`` first shops. Idempotent per user (the
    one-to-one's unique constraint settles two first uses at once). No query when the
    authentication brought the profile with the user."""
    try:
        return user.customer
    except Customer.DoesNotExist:
        pass
    with transaction.atomic():
        customer, _ = Customer.objects.get_or_create(user=user)
    user.customer = customer
    return customer


def points_for(total: Decimal) -> int:
    """One point per whole currency unit of the total (configurable rate)."""
    return int(Decimal(total).to_integral_value(rounding=ROUND_DOWN)) * settings.LOYALTY_POINTS_PER_UNIT


@transaction.atomic(savepoint=False)
def award_points_for_paid_order(*, customer_id: int, order_id: int, total: Decimal) -> PointsEntry | None:
    """Credit the points a paid order earns.

    Idempotent per order, and order-proof: if the order's cancellation was handled
    first, nothing is awarded. The customer row is locked so an award and a
    reversal of the same customer's order never interleave.
    """
    Customer.objects.select_for_update().get(pk=customer_id)
    entries = {entry.reason: entry for entry in PointsEntry.objects.filter(order_id=order_id)}
    if PointsEntry.Reason.ORDER_CANCELLED in entries:
        return None
    if PointsEntry.Reason.ORDER_PAID in entries:
        return entries[PointsEntry.Reason.ORDER_PAID]
    points = points_for(total)
    if points <= 0:
        return None
    # Under the customer's lock nobody else writes this order's entries: a plain
    # INSERT (the unique constraint stays the backstop).
    return PointsEntry.objects.create(
        order_id=order_id, reason=PointsEntry.Reason.ORDER_PAID, customer_id=customer_id, amount=points
    )


@transaction.atomic(savepoint=False)
def revoke_points_for_cancelled_order(*, customer_id: int, order_id: int, was_paid: bool) -> PointsEntry | None:
    """Take back what a since-cancelled paid order earned. Idempotent per order.

    If the award has not been handled yet (events out of order), the reversal is
    recorded at zero so that the late award is refused; an order never paid leaves
    no trace in the ledger.
    """
    if not was_paid:
        return None
    Customer.objects.select_for_update().get(pk=customer_id)
    award = PointsEntry.objects.filter(order_id=order_id, reason=PointsEntry.Reason.ORDER_PAID).first()
    entry, _ = PointsEntry.objects.get_or_create(
        order_id=order_id,
        reason=PointsEntry.Reason.ORDER_CANCELLED,
        defaults={"customer_id": customer_id, "amount": -award.amount if award else 0},
    )
    return entry
