"""What must hold of the shop whatever messages were lost, doubled or reordered.

``check_invariants`` reads the whole database in one snapshot (one read-only
transaction) and returns one ``Finding`` per offender; an empty list means all hold:

* ``stock_conservation`` — for every product, units received = on hand + reserved by
  pending orders + sold to paid orders (always over all orders: stock has no window);
* ``paid_order_payment`` — a paid order has a captured payment (one per order is a
  database constraint);
* ``paid_order_confirmation`` — a paid order got one confirmation notification and one
  confirmation email (none if the customer has no address);
* ``paid_order_points`` — a paid order's loyalty entries add up to what it earns, in
  one entry;
* ``cancelled_order_stock`` — a cancelled order gave back every unit of its lines;
* ``cancelled_order_points`` — a cancelled order's loyalty entries add up to zero;
* ``cancelled_order_payment`` — a cancelled order's payment is not left captured
  (it was refunded, voided, or declined);
* ``handler_run_overdue`` — no handler run is still open a grace period past its
  deadline (the relay re-sends a run when its deadline passes);
* ``event_undispatched`` — no event is left undispatched longer than a minute.

The checks that depend on handlers (confirmation, points, refund) skip an order
whose events are still being dispatched or handled: that work is not late yet, and
if it never finishes the last two invariants say so.

The rules span every domain, so the checker lives in an app of its own that reads
each one through its selectors, and that no domain imports.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog import selectors as catalog_selectors
from customers import selectors as customer_selectors
from customers.services import points_for
from events import selectors as event_selectors
from notifications import selectors as notification_selectors
from orders import selectors as order_selectors
from orders.selectors import OrderStatus
from orders.signals import stream_of
from payments import selectors as payment_selectors
from payments.selectors import PaymentStatus

CHUNK = 500  # orders read per round trip for the per-order checks


@dataclass(frozen=True)
class Finding:
    invariant: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.subject}: {self.detail}"

    def as_dict(self) -> dict:
        return asdict(self)


INVARIANTS = (
    "stock_conservation",
    "paid_order_payment",
    "paid_order_confirmation",
    "paid_order_points",
    "cancelled_order_stock",
    "cancelled_order_points",
    "cancelled_order_payment",
    "handler_run_overdue",
    "event_undispatched",
)


def check_invariants(since: datetime | None = None) -> list[Finding]:
    """Every offence against the invariants above; with ``since``, only orders that
    changed since then. Stock, overdue runs and undispatched events are always checked
    in full: stock has no window, and the oldest stuck work is the worst, not the one
    to stop reporting."""
    now = timezone.now()
    with _one_snapshot():
        findings = list(_stock_conservation())
        for chunk in _chunks(order_selectors.settled_orders(changed_since=since)):
            findings += _order_outcomes(chunk)
        findings += _overdue_runs(now)
        findings += _undispatched_events(now)
    return findings


@contextmanager
def _one_snapshot():
    """Read everything as of one moment, so an order committed halfway through the
    check cannot look like stock gone missing: a read-only REPEATABLE READ
    transaction on PostgreSQL; on SQLite a transaction is a snapshot already (this
    project's IMMEDIATE mode makes writers wait for the check, which the embedded
    setup can afford). Inside a caller's transaction (tests), read in that one."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _chunks(orders) -> Iterator[list]:
    last_id = 0
    while chunk := list(orders.filter(id__gt=last_id)[:CHUNK]):
        yield chunk
        last_id = chunk[-1].pk


def _stock_conservation() -> Iterator[Finding]:
    held = order_selectors.units_held_by_product()
    for product in catalog_selectors.stock_figures():
        pending, paid = held.get(product.product_id, (0, 0))
        accounted = product.on_hand + pending + paid
        if product.received != accounted:
            yield Finding(
                "stock_conservation",
                f"product {product.sku}",
                f"received {product.received} != on hand {product.on_hand} + reserved by pending orders {pending}"
                f" + sold to paid orders {paid} (= {accounted}; {product.received - accounted:+d} unaccounted)",
            )


def _order_outcomes(orders: list) -> Iterator[Finding]:
    ids = [order.pk for order in orders]
    in_flight = event_selectors.streams_in_flight(stream_of(pk) for pk in ids)
    payments = payment_selectors.payment_status_by_order(ids)
    points = customer_selectors.net_points_by_order(ids)
    confirmations = notification_selectors.messages_by_order(ids, "order_confirmed")
    emails = customer_selectors.emails_of({order.customer_id for order in orders})
    releases = catalog_selectors.releases_of(stream_of(pk) for pk in ids)
    for order in orders:
        subject = f"order #{order.pk}"
        settled = stream_of(order.pk) not in in_flight
        net, entries = points.get(order.pk, (0, 0))
        payment = payments.get(order.pk)
        if order.status == OrderStatus.PAID:
            if payment != PaymentStatus.CAPTURED:
                yield Finding("paid_order_payment", subject, f"paid, but its payment is {payment or 'missing'}")
            if not settled:
                continue
            notified, emailed = confirmations.get(order.pk, (0, 0))
            emails_due = 1 if emails.get(order.customer_id) else 0
            if (notified, emailed) != (1, emails_due):
                yield Finding(
                    "paid_order_confirmation",
                    subject,
                    f"{notified} confirmation notifications and {emailed} emails, expected 1 and {emails_due}",
                )
            earned = points_for(order.total)
            if (net, entries) != (earned, 1 if earned else 0):
                yield Finding(
                    "paid_order_points",
                    subject,
                    f"{entries} points entries adding up to {net}, expected {earned} in {1 if earned else 0}",
                )
        else:
            lines = {line.product_id: line for line in order.lines.all()}
            released = releases.get(stream_of(order.pk), {})
            missing = [
                f"{line.sku} {released.get(pid, 0)} of {line.quantity}"
                for pid, line in lines.items()
                if released.get(pid, 0) != line.quantity
            ]
            if missing:
                yield Finding("cancelled_order_stock", subject, f"stock not given back: {', '.join(missing)}")
            if not settled:
                continue
            if net != 0:
                yield Finding("cancelled_order_points", subject, f"cancelled, but its points add up to {net}")
            if payment == PaymentStatus.CAPTURED:
                yield Finding("cancelled_order_payment", subject, "cancelled, but its payment is still captured")


def _overdue_runs(now: datetime) -> Iterator[Finding]:
    before = now - timedelta(seconds=settings.INVARIANTS_RUN_GRACE_SECONDS)
    for run in event_selectors.open_runs_overdue(before=before):
        yield Finding(
            "handler_run_overdue",
            f"run #{run.pk} ({run.handler} on event #{run.event_id})",
            f"{run.status}, {(now - run.deadline).total_seconds():.0f}s past its deadline"
            f" after {run.attempts} attempts",
        )


def _undispatched_events(now: datetime) -> Iterator[Finding]:
    before = now - timedelta(seconds=settings.INVARIANTS_UNDISPATCHED_MAX_SECONDS)
    for event in event_selectors.undispatched_before(before=before):
        error = f"; last error: {event.last_dispatch_error.splitlines()[0][:200]}" if event.last_dispatch_error else ""
        yield Finding(
            "event_undispatched",
            f"event #{event.pk} ({event.type}, {event.stream})",
            f"recorded {(now - event.occurred_at).total_seconds():.0f}s ago and not dispatched"
            f" after {event.dispatch_attempts} attempts{error}",
        )
