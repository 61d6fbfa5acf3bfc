from celery import shared_task

from . import services


@shared_task(name="events.relay", ignore_result=True)
def relay() -> None:
    """Periodic: dispatch events left behind and re-send runs past their deadline."""
    services.relay()


@shared_task(name="events.prune", ignore_result=True)
def prune() -> None:
    """Periodic: delete events past EVENTS_RETENTION_DAYS that are completely handled."""
    services.prune()
