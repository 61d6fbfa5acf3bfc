from events.handlers import event_handler
from events.models import Event

from . import services


@event_handler("notifications.order_confirmed", queue="notifications")
def order_confirmed(event: Event) -> None:
    """order.paid: confirmation email and in-app notification."""
    p = event.payload
    services.notify_order_confirmed(order_id=p["order_id"], customer_id=p["customer_id"], event_key=event.key)


@event_handler("notifications.order_cancelled", queue="notifications")
def order_cancelled(event: Event) -> None:
    """order.cancelled: cancellation email and in-app notification."""
    p = event.payload
    services.notify_order_cancelled(
        order_id=p["order_id"],
        customer_id=p["customer_id"],
        reason=p["reason"],
        was_paid=p["was_paid"],
        event_key=event.key,
    )
