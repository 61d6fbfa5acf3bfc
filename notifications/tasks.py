from events.handlers import event_handler
from events.models import Event
from orders import signals as order_events
from support import signals as support_events

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


@event_handler("notifications.support_answered", queue="notifications")
def support_answered(event: Event) -> None:
    """support.question_answered: the answer, in the app and by email."""
    answered = support_events.question_answered.data_of(event)
    services.notify_support_answer(
        customer_id=answered.customer_id,
        order_id=answered.order_id,
        question_id=answered.question_id,
        answer=answered.answer,
        event_key=event.key,
    )


@event_handler("notifications.support_handed_over", queue="notifications")
def support_handed_over(event: Event) -> None:
    """support.question_handed_over: tell the customer staff will answer."""
    handed = support_events.question_handed_over.data_of(event)
    services.notify_support_handed_over(
        customer_id=handed.customer_id, order_id=handed.order_id, question_id=handed.question_id, event_key=event.key
    )
