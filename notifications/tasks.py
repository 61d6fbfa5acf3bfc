from events.handlers import event_handler
from events.models import Event
from orders import signals as order_events

from . import services


@event_handler("notifications.order_confirmed", queue="notifications")
def order_confirmed(event: Event) -> None:
    """order.paid: confirmation email and in-app notification."""
    paid = order_events.order_paid.data_of(event)
    services.notify_order_confirmed(order_id=paid.order_id, customer_id=paid.customer_id, event_key=event.key)


@event_handler("notifications.order_cancelled", queue="notifications")
def order_cancelled(event: Event) -> None:
    """order.cancelled: cancellation email and in-app notification."""
    cancelled = order_events.order_cancelled.data_of(event)
    services.notify_order_cancelled(
        order_id=cancelled.order_id,
        customer_id=cancelled.customer_id,
        reason=cancelled.reason,
        was_paid=cancelled.was_paid,
        event_key=event.key,
    )
