from datetime import datetime
from decimal import Decimal

from django.db.models import CharField, Count, Exists, OuterRef, QuerySet, Sum, Value
from django.db.models.functions import Cast, Concat

from events import selectors as event_selectors
from payments.signals import payment_captured, payment_failed

from .models import Order, OrderLine

# The events that decide a pending order's fate; until one is recorded it awaits payment.
PAYMENT_OUTCOMES = (payment_captured.name, payment_failed.name)


def orders_of(customer) -> QuerySet[Order]:
    """The customer's orders, newest first; none for no customer (a staff account)."""
    if customer is None:
        return Order.objects.none()
    return Order.objects.filter(customer=customer).prefetch_related("lines").order_by("-created_at", "-id")


def order_of(customer, order_id: int) -> Order | None:
    """The customer's order, or None if there is none or it is someone else's."""
    return orders_of(customer).filter(pk=order_id).first()


def order_timeline(order: Order | None):
    """The order's events, oldest first (none for no order)."""
    return event_selectors.timeline(f"order:{order.pk}" if order else None)


def status_of(order_id: int) -> str:
    """The order's status, for other apps that must not act on a cancelled order."""
    return Order.objects.values_list("status", flat=True).get(pk=order_id)


def amount_of(order_id: int) -> tuple[Decimal, str]:
    """The order's total and currency, for the payment that settles it."""
    return Order.objects.values_list("total", "currency").get(pk=order_id)


def order_summary(order_id: int) -> dict:
    """What other apps may read of an order (e.g. for an email), as plain data; one
    query (the lines, each with its order's columns)."""
    lines = list(
        OrderLine.objects.filter(order_id=order_id)
        .order_by("id")
        .values("sku", "name", "quantity", "line_total", "order__status", "order__total", "order__currency")
    )
    if not lines:  # every order has a line: no lines, no order
        raise Order.DoesNotExist(f"order {order_id} does not exist")
    first = lines[0]
    return {
        "id": order_id,
        "status": first["order__status"],
        "total": first["order__total"],
        "currency": first["order__currency"],
        "lines": [
            {"sku": li["sku"], "name": li["name"], "quantity": li["quantity"], "line_total": li["line_total"]}
            for li in lines
        ],
    }


def count_by_status() -> dict[str, int]:
    counts = {status: 0 for status in Order.Status.values}
    for row in Order.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def units_held_by_product() -> dict[int, tuple[int, int]]:
    """Per product id: units reserved by pending orders and units sold to paid ones."""
    held: dict[int, tuple[int, int]] = {}
    rows = (
        OrderLine.objects.filter(order__status__in=(Order.Status.PENDING, Order.Status.PAID))
        .values("product_id", "order__status")
        .annotate(n=Sum("quantity"))
    )
    for row in rows:
        pending, paid = held.get(row["product_id"], (0, 0))
        if row["order__status"] == Order.Status.PENDING:
            pending += row["n"]
        else:
            paid += row["n"]
        held[row["product_id"]] = (pending, paid)
    return held


def settled_orders(*, changed_since=None) -> QuerySet[Order]:
    """Paid and cancelled orders (changed since ``changed_since``, if given: an old
    order cancelled today is in), oldest first, with their lines: the orders whose
    outcome the invariant checker can judge."""
    orders = Order.objects.filter(status__in=(Order.Status.PAID, Order.Status.CANCELLED))
    if changed_since is not None:
        orders = orders.filter(updated_at__gte=changed_since)
    return orders.prefetch_related("lines").order_by("id")


def unpaid_orders(*, placed_before: datetime) -> QuerySet[Order]:
    """Orders placed before then, still pending, with no payment outcome recorded in
    their timeline (neither ``payment.captured`` nor ``payment.failed``)."""
    stream = Concat(Value("order:"), Cast(OuterRef("pk"), output_field=CharField()))
    outcome = event_selectors.events_of_types(PAYMENT_OUTCOMES).filter(stream=stream)
    return Order.objects.filter(status=Order.Status.PENDING, created_at__lt=placed_before).exclude(Exists(outcome))


def unpaid_order_ids(*, placed_before: datetime, limit: int) -> list[int]:
    """Ids of ``unpaid_orders``, oldest first, at most ``limit``."""
    oldest_first = unpaid_orders(placed_before=placed_before).order_by("created_at", "id")
    return list(oldest_first.values_list("id", flat=True)[:limit])


def outcome_counts() -> dict[str, int]:
    """How many orders were ever placed, paid and cancelled (a paid order later
    cancelled counts in both)."""
    return Order.objects.aggregate(placed=Count("id"), paid=Count("paid_at"), cancelled=Count("cancelled_at"))
