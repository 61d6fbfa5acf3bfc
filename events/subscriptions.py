"""Who reacts to which event: the one place receivers are connected.

``subscribe(order_placed, charge_order)`` connects a receiver to the event's signal
that answers with the handler task to run: the dispatcher collects the answers of
every receiver (``Signal.send`` returns them), writes their handler runs and
publishes their tasks; the work itself runs in a worker. Subscriptions are kept so
that ``manage.py events catalog`` can print the whole flow.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .types import EventType, Payload

if TYPE_CHECKING:
    from .handlers import HandlerTask
    from .models import Event


@dataclass(frozen=True)
class Subscription:
    event_type: EventType[Payload]
    task: "HandlerTask"

    @property
    def handler(self) -> str:
        return self.task.spec.name


_subscriptions: list[Subscription] = []


def subscribe(
    event_type: EventType[Payload], task: "HandlerTask", *, when: "Callable[[Event], bool] | None" = None
) -> None:
    """Run ``task`` on each event of ``event_type``; if ``when`` is given, only on the
    events for which ``when(event)`` is true (asked by the dispatcher, so it must be
    cheap: e.g. a cached "is anyone listening")."""

    def handler_to_run(sender: object, event: "Event", **kwargs: object) -> "HandlerTask | None":
        if when is not None and not when(event):
            return None
        return task

    handler_to_run.__name__ = f"run_{task.spec.name}"
    # dispatch_uid makes a repeated ready() (tests, autoreload) connect once.
    event_type.connect(handler_to_run, dispatch_uid=task.spec.name, weak=False)
    if not any(s.event_type is event_type and s.task is task for s in _subscriptions):
        _subscriptions.append(Subscription(event_type, task))


def subscriptions_of(event_type: EventType[Payload]) -> list[Subscription]:
    return [s for s in _subscriptions if s.event_type is event_type]
