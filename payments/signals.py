"""The events the payments app publishes: their typed payloads and their types."""

from decimal import Decimal

from events.types import EventType, Payload
from orders.signals import ORDER_STREAM


class PaymentCaptured(Payload):
    order_id: int
    payment_id: int
    amount: Decimal
    currency: str
    charge_id: str


class PaymentFailed(Payload):
    order_id: int
    payment_id: int
    reason: str


class PaymentRefunded(Payload):
    order_id: int
    payment_id: int
    amount: Decimal
    currency: str
    refund_id: str


payment_captured = EventType(
    "payment.captured", PaymentCaptured, stream=ORDER_STREAM, doc="The gateway captured the order's payment."
)
payment_failed = EventType(
    "payment.failed", PaymentFailed, stream=ORDER_STREAM, doc="The gateway declined the order's payment."
)
payment_refunded = EventType(
    "payment.refunded",
    PaymentRefunded,
    stream=ORDER_STREAM,
    doc="A captured payment was refunded because its order was cancelled.",
)
