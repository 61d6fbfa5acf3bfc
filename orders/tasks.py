from celery import shared_task

from events.handlers import event_handler
from events.models import Event

from . import idempotency, services
from .signals import CancelReason


@event_handler("orders.mark_paid", queue="orders")
def mark_paid(event: Event) -> None:
    """payment.captured: the order becomes paid."""
    services.mark_paid(order_id=event.data.order_id)


@event_handler("orders.cancel_declined", queue="orders")
def cancel_declined(event: Event) -> None:
    """payment.failed: the order is cancelled and its stock released."""
    services.cancel_order(order_id=event.data.order_id, reason=CancelReason.PAYMENT_DECLINED)


@shared_task(name="orders.prune_idempotency_keys", ignore_result=True)
def prune_idempotency_keys() -> int:
    """Periodic: delete Idempotency-Keys past their time to live."""
    return idempotency.prune_expired()


@shared_task(name="orders.cancel_unpaid_orders", ignore_result=True)
def cancel_unpaid_orders() -> None:
    """Periodic: cancel orders left pending with no payment outcome past ORDER_PAYMENT_TIMEOUT."""
    services.cancel_unpaid_orders()
