from events.types import EventType

order_placed = EventType(
    "order.placed",
    fields=("order_id", "customer_id", "total", "currency", "payment_token", "lines"),
    private=("payment_token",),
    doc="A customer placed an order; its stock is reserved and it awaits payment.",
)
order_paid = EventType(
    "order.paid",
    fields=("order_id", "customer_id", "total", "currency"),
    doc="The order's payment was captured.",
)
order_cancelled = EventType(
    "order.cancelled",
    fields=("order_id", "customer_id", "reason", "was_paid"),
    doc="The order was cancelled (payment declined, or by the customer); its stock is back.",
)
