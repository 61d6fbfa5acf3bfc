"""Who reacts to which event: the one place receivers are connected.

``subscribe(order_placed, charge_order)`` connects a receiver to the event's signal
that does nothing but ``enqueue`` the handler task; the work itself runs in a worker.
Subscriptions are kept so that ``manage.py events catalog`` can print the whole flow.
"""

from dataclasses import dataclass

from . import services
from .types import EventType


@dataclass(frozen=True)
class Subscription:
    event_type: EventType
    task: object

    @property
    def handler(self) -> str:
        return self.task.spec.name


_subscriptions: list[Subscription] = []


def subscribe(event_type: EventType, task) -> None:
    def enqueue_handler(sender, event, **kwargs):
        services.enqueue(task, event)

    enqueue_handler.__name__ = f"enqueue_{task.spec.name}"
    # dispatch_uid makes a repeated ready() (tests, autoreload) connect once.
    event_type.connect(enqueue_handler, dispatch_uid=task.spec.name, weak=False)
    if not any(s.event_type is event_type and s.task is task for s in _subscriptions):
        _subscriptions.append(Subscription(event_type, task))


def subscriptions_of(event_type: EventType) -> list[Subscription]:
    return [s for s in _subscriptions if s.event_type is event_type]
