from events.types import EventType

payment_captured = EventType(
    "payment.captured",
    fields=("order_id", "payment_id", "amount", "currency", "charge_id"),
    doc="The gateway captured the order's payment.",
)
payment_failed = EventType(
    "payment.failed",
    fields=("order_id", "payment_id", "reason"),
    doc="The gateway declined the order's payment.",
)
payment_refunded = EventType(
    "payment.refunded",
    fields=("order_id", "payment_id", "amount", "currency", "refund_id"),
    doc="A captured payment was refunded because its order was cancelled.",
)
