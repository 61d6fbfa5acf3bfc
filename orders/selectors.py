from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncHour

from events import selectors as event_selectors
from payments import selectors as payment_selectors

from .models import Order as Order  # re-exported: the type other apps annotate an order with
from .models import OrderLine
from .signals import stream_of

if TYPE_CHECKING:
    from customers.selectors import Customer
    from events.models import Event

CENT = Decimal("0.01")
# The statuses other apps compare an order's with (e.g. the orders settled_orders gives).
OrderStatus = Order.Status


def orders_of(customer: "Customer | None") -> QuerySet[Order]:
    """The customer's orders, newest first; none for no customer (a staff account)."""
    if customer is None:
        return Order.objects.none()
    return Order.objects.filter(customer=customer).prefetch_related("lines").order_by("-created_at", "-id")


def order_of(customer: "Customer | None", order_id: int) -> Order | None:
    """The customer's order, or None if there is none or it is someone else's."""
    return orders_of(customer).filter(pk=order_id).first()


def order_timeline(order: Order | None) -> "QuerySet[Event]":
    """The order's events, oldest first (none for no order)."""
    return event_selectors.timeline(stream_of(order.pk) if order else None)


def is_cancelled(order_id: int) -> bool:
    """For other apps that must not act on a cancelled order (e.g. charge it). Raises
    ``Order.DoesNotExist`` for an order that does not exist: no charge for it either."""
    return Order.objects.values_list("status", flat=True).get(pk=order_id) == Order.Status.CANCELLED


def amount_of(order_id: int) -> tuple[Decimal, str]:
    """The order's total and currency, for the payment that settles it."""
    return Order.objects.values_list("total", "currency").get(pk=order_id)


def charge_key_of(order_id: int) -> str:
    """The idempotency key of the order's one charge at the gateway."""
    return str(Order.objects.values_list("charge_key", flat=True).get(pk=order_id))


class SummaryLine(TypedDict):
    sku: str
    name: str
    quantity: int
    line_total: Decimal


class OrderSummary(TypedDict):
    id: int
    status: str
    is_paid: bool
    total: Decimal
    currency: str
    lines: list[SummaryLine]


def order_summary(order_id: int) -> OrderSummary:
    """What other apps may read of an order (e.g. for an email), as plain data, with
    the answers they act on (``is_paid``) so that none compares statuses itself; one
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
        "is_paid": first["order__status"] == Order.Status.PAID,
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


def settled_orders(*, changed_since: datetime | None = None) -> QuerySet[Order]:
    """Paid and cancelled orders (changed since ``changed_since``, if given: an old
    order cancelled today is in), oldest first, with their lines: the orders whose
    outcome the invariant checker can judge."""
    orders = Order.objects.filter(status__in=(Order.Status.PAID, Order.Status.CANCELLED))
    if changed_since is not None:
        orders = orders.filter(updated_at__gte=changed_since)
    return orders.prefetch_related("lines").order_by("id")


def unpaid_orders(*, placed_before: datetime) -> QuerySet[Order]:
    """Orders placed before then, still pending, whose payment has no outcome (the
    payments app says: neither captured nor declined). Asked of the payment rows, not
    of the events, which retention prunes."""
    outcome = payment_selectors.payments_with_outcome().filter(order_id=OuterRef("pk"))
    return Order.objects.filter(status=Order.Status.PENDING, created_at__lt=placed_before).exclude(Exists(outcome))


def unpaid_order_ids(*, placed_before: datetime, limit: int) -> list[int]:
    """Ids of ``unpaid_orders``, oldest first, at most ``limit``."""
    oldest_first = unpaid_orders(placed_before=placed_before).order_by("created_at", "id")
    return list(oldest_first.values_list("id", flat=True)[:limit])


def outcome_counts() -> dict[str, int]:
    """How many orders were ever placed, paid and cancelled (a paid order later
    cancelled counts in both)."""
    return Order.objects.aggregate(placed=Count("id"), paid=Count("paid_at"), cancelled=Count("cancelled_at"))


@dataclass
class Outcomes:
    """What happened to orders in a window: placed, paid, cancelled (by reason), and
    the revenue of the paid ones by currency."""

    placed: int = 0
    paid: int = 0
    cancelled: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)

    @property
    def cancelled_total(self) -> int:
        return sum(self.cancelled.values())


def outcomes_since(*starts: datetime) -> list[Outcomes]:
    """``Outcomes`` since each of ``starts`` (e.g. today's midnight and a week ago), in
    one query over the orders placed, paid or cancelled since the earliest (each
    timestamp indexed, so the cost follows the window, not the table)."""
    earliest = min(starts)
    aggregates: dict[str, Count | Sum] = {}
    for n, start in enumerate(starts):
        aggregates |= {
            f"placed_{n}": Count("id", filter=Q(created_at__gte=start)),
            f"paid_{n}": Count("id", filter=Q(paid_at__gte=start)),
            f"cancelled_{n}": Count("id", filter=Q(cancelled_at__gte=start)),
            f"revenue_{n}": Sum("total", filter=Q(paid_at__gte=start)),
        }
    rows = (
        Order.objects.filter(Q(created_at__gte=earliest) | Q(paid_at__gte=earliest) | Q(cancelled_at__gte=earliest))
        .order_by()
        .values("currency", "cancel_reason")
        .annotate(**aggregates)
    )
    outcomes = [Outcomes() for _ in starts]
    for row in rows:
        for n, outcome in enumerate(outcomes):
            outcome.placed += row[f"placed_{n}"]
            outcome.paid += row[f"paid_{n}"]
            if row[f"cancelled_{n}"]:
                reason = row["cancel_reason"] or "unknown"
                outcome.cancelled[reason] = outcome.cancelled.get(reason, 0) + row[f"cancelled_{n}"]
            if row[f"revenue_{n}"]:
                # SQLite sums decimals in floating point: back to cents.
                revenue = Decimal(row[f"revenue_{n}"]).quantize(CENT)
                outcome.revenue[row["currency"]] = outcome.revenue.get(row["currency"], Decimal(0)) + revenue
    return outcomes


def orders_per_hour(*, since: datetime) -> dict[str, dict[datetime, int]]:
    """Orders placed, paid and cancelled in each hour since ``since``: one query (a
    UNION of three indexed range scans)."""
    series = {"placed": "created_at", "paid": "paid_at", "cancelled": "cancelled_at"}
    parts = [
        Order.objects.filter(**{f"{column}__gte": since})
        .order_by()
        .annotate(hour=TruncHour(column), series=Value(name))
        .values("series", "hour")
        .annotate(n=Count("id"))
        for name, column in series.items()
    ]
    counts: dict[str, dict[datetime, int]] = {name: {} for name in series}
    for row in parts[0].union(*parts[1:], all=True):
        counts[row["series"]][row["hour"]] = row["n"]
    return counts
