from events.handlers import event_handler
from events.models import Event

from . import services


@event_handler("customers.award_points", queue="loyalty")
def award_points(event: Event) -> None:
    """order.paid: credit the customer's loyalty points."""
    p = event.payload
    services.award_points_for_paid_order(customer_id=p["customer_id"], order_id=p["order_id"], total=p["total"])


@event_handler("customers.revoke_points", queue="loyalty")
def revoke_points(event: Event) -> None:
    """order.cancelled: take back the points of an order that had been paid."""
    p = event.payload
    services.revoke_points_for_cancelled_order(
        customer_id=p["customer_id"], order_id=p["order_id"], was_paid=p["was_paid"]
    )
