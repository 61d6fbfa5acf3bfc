from events.handlers import event_handler
from events.models import Event
from orders.signals import order_cancelled, order_placed

from . import services


# A gateway outage should not dead-letter every order placed meanwhile: twelve attempts
# back off over roughly a quarter of an hour.
@event_handler("payments.charge_order", queue="payments", max_attempts=12)
def charge_order(event: Event) -> None:
    """order.placed: charge the order through the gateway."""
    placed = order_placed.data_of(event)
    services.charge_order(
        order_id=placed.order_id,
        token=placed.payment_token,
        key=str(event.key),
        amount=placed.total,
        currency=placed.currency,
    )


@event_handler("payments.settle_cancelled_order", queue="payments", max_attempts=8)
def settle_cancelled_order(event: Event) -> None:
    """order.cancelled: refund the payment if it was captured, void it if not yet."""
    services.settle_cancelled_order(order_id=order_cancelled.data_of(event).order_id, idempotency_key=str(event.key))
