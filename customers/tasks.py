from events.handlers import event_handler
from events.models import Event
from orders.signals import order_cancelled, order_paid

from . import services


@event_handler("customers.award_points", queue="loyalty")
def award_points(event: Event) -> None:
    """order.paid: credit the customer's loyalty points."""
    paid = order_paid.data_of(event)
    services.award_points_for_paid_order(customer_id=paid.customer_id, order_id=paid.order_id, total=paid.total)


@event_handler("customers.revoke_points", queue="loyalty")
def revoke_points(event: Event) -> None:
    """order.cancelled: take back the points of an order that had been paid."""
    cancelled = order_cancelled.data_of(event)
    services.revoke_points_for_cancelled_order(
        customer_id=cancelled.customer_id, order_id=cancelled.order_id, was_paid=cancelled.was_paid
    )
