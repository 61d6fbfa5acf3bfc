"""The events the orders app publishes: their typed payloads and their types."""

from decimal import Decimal

from events.types import EventType, Payload


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
    reason: str
    was_paid: bool


order_placed = EventType(
    "order.placed",
    OrderPlaced,
    private=("payment_token",),
    doc="A customer placed an order; its stock is reserved and it awaits payment.",
)
order_paid = EventType("order.paid", OrderPaid, doc="The order's payment was captured.")
order_cancelled = EventType(
    "order.cancelled",
    OrderCancelled,
    doc="The order was cancelled (payment declined, or by the customer); its stock is back.",
)
