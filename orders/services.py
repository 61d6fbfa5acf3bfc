"""Orders: placing, paying, cancelling. Every status change records its event, and
logs a line naming the order and that event.

Services that a handler calls join its transaction whole (``atomic(savepoint=False)``):
the effect and the run's done-mark commit together or not at all, and a failure rolls
back the caller's transaction with it, without a savepoint's two extra round trips.
Called on their own, they are a transaction of their own. Those that refuse requests
(``place_order``, ``cancel_order``: a 400 or a 409) keep their savepoint, so that a
caller's transaction survives the refusal.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog import services as catalog_services
from events import services as events
from project.logcontext import log_context

from . import selectors
from .models import Order, OrderLine

if TYPE_CHECKING:
    from customers.selectors import Customer
from .signals import CancelReason, OrderCancelled, OrderPaid, OrderPlaced, PlacedLine, stream_of

logger = logging.getLogger(__name__)

# What Order.total (and so every line total) can hold: 12 digits, 2 after the point.
MAX_TOTAL = Decimal("9999999999.99")


class OrderError(Exception):
    """A request the order rules refuse; ``field`` names the offending input."""

    field = "non_field_errors"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        if field:
            self.field = field


class OrderAlreadyCancelled(OrderError):
    pass


def hold_for_events(*, order_id: int) -> None:
    """Lock the order's row until the caller's transaction ends, before recording an
    event of the order's stream (``order:<id>``) that another app writes (a payment's).

    Every writer of an order's events holds this lock until commit: ``place_order``
    (the row is its own insert, invisible until commit), ``mark_paid``, ``cancel_order``
    and the payment-timeout sweep (``select_for_update``), and the payments app through
    this. So an order's events get their ids (the sequence ``nextval`` hands out) and
    commit one writer after another: an order's events commit in id order, and a reader
    that saw id N of an order never later finds an id below N appear in it. The live
    order stream (``live``) resumes from ``Last-Event-ID`` on that guarantee. (On
    SQLite every writer is serialised anyway.)
    """
    list(Order.objects.select_for_update().filter(pk=order_id).order_by().values_list("pk"))


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


@transaction.atomic
def place_order(*, customer: "Customer", lines: list[LineRequest], payment_token: str) -> Order:
    """Reserve stock and create a pending order, priced from the catalog.

    One transaction: products are locked in id order and their stock reserved, the
    order and its lines are written, and ``order.placed`` is recorded. Raises
    ``OrderError`` (or the catalog's ``UnknownProduct`` / ``OutOfStock``) and writes
    nothing when a line cannot be served.
    """
    quantities = _validated_quantities(lines)
    reserved = catalog_services.reserve_stock(quantities)
    currencies = {r.currency for r in reserved}
    if len(currencies) > 1:
        raise OrderError(f"all items must share one currency, got {', '.join(sorted(currencies))}", field="items")
    currency = currencies.pop()
    total = sum((r.unit_price * r.quantity for r in reserved), Decimal("0.00"))
    if total > MAX_TOTAL:
        raise OrderError(f"the order total may not exceed {MAX_TOTAL} {currency}", field="items")
    order = Order.objects.create(customer=customer, total=total, currency=currency)
    written = OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product_id=r.product_id,
            sku=r.sku,
            name=r.name,
            quantity=r.quantity,
            unit_price=r.unit_price,
            line_total=r.unit_price * r.quantity,
        )
        for r in reserved
    )
    _known_lines(order, written)
    event = events.record(
        OrderPlaced(
            order_id=order.pk,
            customer_id=customer.pk,
            total=total,
            currency=currency,
            payment_token=payment_token,
            lines=tuple(PlacedLine(sku=r.sku, quantity=r.quantity, unit_price=r.unit_price) for r in reserved),
        ),
        key=order.charge_key,
    )
    with log_context(order_id=order.pk, event_id=event.pk):
        logger.info("order placed: %s lines, %s %s", len(reserved), total, currency)
    return order


def _known_lines(order: Order, lines: list[OrderLine]) -> None:
    """Keep the lines just written on the order, as ``prefetch_related`` keeps what it
    fetched, so that whoever shows the order (the API's answer) does not read them
    back."""
    cached = order.lines.all()
    # The ignores: Django's private prefetch attributes are not in its stubs.
    cached._result_cache, cached._prefetch_done = lines, True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": cached}  # type: ignore[attr-defined]


def _validated_quantities(lines: list[LineRequest]) -> dict[str, int]:
    if not lines:
        raise OrderError("an order needs at least one item", field="items")
    if len(lines) > settings.ORDER_MAX_LINES:
        raise OrderError(f"at most {settings.ORDER_MAX_LINES} lines per order", field="items")
    quantities: dict[str, int] = {}
    for line in lines:
        if line.sku in quantities:
            raise OrderError(f"{line.sku} appears on more than one line", field="items")
        if not 1 <= line.quantity <= settings.ORDER_MAX_QUANTITY:
            raise OrderError(f"quantity must be between 1 and {settings.ORDER_MAX_QUANTITY}", field="items")
        quantities[line.sku] = line.quantity
    return quantities


@transaction.atomic(savepoint=False)
def mark_paid(*, order_id: int) -> Order:
    """The payment was captured: a pending order becomes paid and ``order.paid`` is
    recorded. Any other status is left alone (a capture never revives a cancelled
    order; the payments app refunds that capture when it sees the cancellation)."""
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != Order.Status.PENDING:
        return order
    order.status = Order.Status.PAID
    order.paid_at = timezone.now()
    order.save(update_fields=["status", "paid_at", "updated_at"])
    event = events.record(
        OrderPaid(order_id=order.pk, customer_id=order.customer_id, total=order.total, currency=order.currency)
    )
    with log_context(order_id=order.pk, event_id=event.pk):
        logger.info("order paid")
    return order


@transaction.atomic
def cancel_order(*, order_id: int, reason: CancelReason) -> Order:
    """Cancel a pending or paid order, put its stock back and record ``order.cancelled``
    (for a handler, staff or the sweeper). One transaction, under the order's row lock.
    Idempotent: an order already cancelled is returned as it is, so a redelivered
    event or a second click changes nothing."""
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != Order.Status.CANCELLED:
        _cancel(order, reason=reason)
    return order


@transaction.atomic
def cancel_own_order(*, customer: "Customer", order_id: int) -> Order:
    """The customer cancels their order (reason ``customer``), as ``cancel_order`` does
    it. Raises ``Order.DoesNotExist`` if it is not theirs, and ``OrderAlreadyCancelled``
    if it is cancelled already: the customer is told, not silently answered."""
    order = Order.objects.select_for_update().get(pk=order_id, customer=customer)
    if order.status == Order.Status.CANCELLED:
        raise OrderAlreadyCancelled("the order is already cancelled", field="status")
    _cancel(order, reason=CancelReason.CUSTOMER)
    return order


def _cancel(order: Order, *, reason: CancelReason) -> None:
    """Cancel ``order``, locked by the caller's transaction and not cancelled yet: its
    stock back, its status and reason, and ``order.cancelled``, which sets off the
    refund or void, the points taken back and the customer's notice."""
    was_paid = order.status == Order.Status.PAID
    catalog_services.release_stock(
        ((line.product_id, line.quantity) for line in order.lines.all()), reference=stream_of(order.pk)
    )
    order.status = Order.Status.CANCELLED
    order.cancel_reason = reason
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancel_reason", "cancelled_at", "updated_at"])
    event = events.record(
        OrderCancelled(order_id=order.pk, customer_id=order.customer_id, reason=reason, was_paid=was_paid)
    )
    with log_context(order_id=order.pk, event_id=event.pk):
        logger.info("order cancelled (%s)", reason)


def cancel_unpaid_orders(*, older_than: timedelta | None = None, limit: int = 200) -> list[int]:
    """Cancel orders still ``pending`` with no payment outcome after
    ``ORDER_PAYMENT_TIMEOUT`` (or ``older_than``), reason ``payment_timeout``; return
    their ids.

    Each order is cancelled in a transaction of its own, exactly as ``cancel_order``
    does it (stock back, ``order.cancelled`` recorded, so the payment is voided, or
    refunded if a capture lands after all, and the customer is told). Its row is
    locked with ``skip_locked`` and its status re-checked under the lock, so two
    sweepers at once cancel each order once, a sweeper never waits for a request or
    handler holding the order, and an order paid or cancelled meanwhile is left
    alone. A charge still in flight at the gateway holds the payment, not the order:
    if it captures after this cancellation, the cancellation's settle handler refunds
    it (the customer sees a charge and its refund). An order whose payment outcome is recorded
    (``payment.captured`` / ``payment.failed``) is not touched: its own handler is
    about to settle it. At most ``limit`` orders a call (the periodic task comes back
    for the rest).
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.ORDER_PAYMENT_TIMEOUT)
    cutoff = timezone.now() - older_than
    cancelled = []
    for order_id in selectors.unpaid_order_ids(placed_before=cutoff, limit=limit):
        with transaction.atomic():
            order = (
                selectors.unpaid_orders(placed_before=cutoff)
                .select_for_update(skip_locked=True)
                .filter(pk=order_id)
                .first()
            )
            if order is None:
                continue  # paid, cancelled or being handled meanwhile
            _cancel(order, reason=CancelReason.PAYMENT_TIMEOUT)
        cancelled.append(order_id)
        logger.info("order=%s cancelled: no payment outcome after %s", order_id, older_than)
    return cancelled
