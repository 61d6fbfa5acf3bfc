"""The events the orders app publishes: their typed payloads, their types, and the
words other apps share with them (why an order was cancelled, an order's stream)."""

from decimal import Decimal

from django.db import models

from events.types import EventType, Payload

ORDER_STREAM = "order"


def stream_of(order_id: int) -> str:
    """The stream of an order's events, its timeline: ``order:42``."""
    return f"{ORDER_STREAM}:{order_id}"


class CancelReason(models.TextChoices):
    """Why an order was cancelled: kept on the order and carried by ``order.cancelled``."""

    PAYMENT_DECLINED = "payment_declined", "payment declined"
    PAYMENT_TIMEOUT = "payment_timeout", "no payment in time"
    CUSTOMER = "customer", "by the customer"
    STAFF = "staff", "by staff"


class PlacedLine(Payload):
    sku: str
    quantity: int
    unit_price: Decimal


class OrderPlaced(Payload):
    order_id: int
    customer_id: int
    total: Decimal
    currency: str
    payment_token: str
    lines: tuple[PlacedLine, ...]


class OrderPaid(Payload):
    order_id: int
    customer_id: int
    total: Decimal
    currency: str


class OrderCancelled(Payload):
    order_id: int
    customer_id: int
    reason: CancelReason  # v2: one of the reasons (v1: any string, always one of them)
    was_paid: bool


order_placed = EventType(
    "order.placed",
    OrderPlaced,
    stream=ORDER_STREAM,
    private=("payment_token",),
    doc="A customer placed an order; its stock is reserved and it awaits payment.",
)
order_paid = EventType("order.paid", OrderPaid, stream=ORDER_STREAM, doc="The order's payment was captured.")
order_cancelled = EventType(
    "order.cancelled",
    OrderCancelled,
    version=2,
    stream=ORDER_STREAM,
    doc="The order was cancelled (payment declined or timed out, by the customer or by staff); its stock is back.",
)


@order_cancelled.upcaster(from_version=1)
def _reason_became_one_of_the_reasons(stored: dict) -> dict:
    # v1 stored the reason as a free string; every one written was a CancelReason value.
    return stored
