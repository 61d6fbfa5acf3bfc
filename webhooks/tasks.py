from celery import shared_task
from django.conf import settings

from events.handlers import event_handler
from events.models import Event

from . import services


@event_handler("webhooks.fan_out", queue="webhooks")
def fan_out(event: Event) -> None:
    """Every public event some endpoint wants: one delivery per such endpoint."""
    services.fan_out(event)


# acks_late: a worker killed mid-attempt leaves the message to be delivered again; the
# delivery's lease (and the sweep) make that harmless.
# The soft limit cuts a receiver that drips its answer slower than the read timeout can
# see (the attempt is logged as an error); the lease outlasts it (services.attempt).
@shared_task(
    name="webhooks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_READ_TIMEOUT + 15,
    time_limit=settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_READ_TIMEOUT + 30,
)
def deliver(delivery_id: int) -> None:
    """One attempt of one delivery, if it is due and free."""
    services.attempt(delivery_id)


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep() -> None:
    """Periodic: send the deliveries whose next attempt is due."""
    services.sweep()
