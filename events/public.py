"""Public integration events: what other systems may see of Orderflow's events.

Which event types leave the system is declared here and nowhere else
(``PUBLIC_EVENT_TYPES``); every channel (webhooks, stream sinks, the live order
stream, the AsyncAPI catalog) asks this module. Each public event leaves as one
envelope, the same bytes on every channel and every re-send::

    {"id": "<the event's key>", "type": "order.paid", "version": 1,
     "occurred_at": "2026-11-30T17:05:15.123456+00:00", "subject": "order:42",
     "sequence": 1190, "data": {"order_id": 42, ...}}

``data`` is the typed payload upcast to the type's current version, without the
type's private fields (a payment token never leaves): never a model dump.
``id`` is the event's idempotency key, stable across re-sends, so a consumer
de-duplicates on it. ``sequence`` grows in the order one subject's events committed
(every writer of an order's events holds the order's row lock until it commits:
``orders.services.hold_for_events``), and each channel retries each event on its own,
so a consumer that must apply one order's events in order sorts them by it; the live
stream's ``id:`` is the same number.
"""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import types
from .models import Event
from .subscriptions import subscribe

if TYPE_CHECKING:
    from .handlers import HandlerTask

# The contract with other systems: add a type here to publish it; a type here whose
# payload changes needs a new version (tests/events/test_public_catalog.py holds
# every published version's schema).
PUBLIC_EVENT_TYPES: tuple[str, ...] = (
    "order.placed",
    "order.paid",
    "order.cancelled",
    "payment.captured",
    "payment.failed",
    "payment.refunded",
)


def is_public(type_name: str) -> bool:
    return type_name in PUBLIC_EVENT_TYPES


def public_types() -> list[types.EventType[types.Payload]]:
    """The public event types, by name; each one must be declared (``events.types``)."""
    return [types.get(name) for name in sorted(PUBLIC_EVENT_TYPES)]


def envelope(event: Event) -> types.JSONObject:
    """The event as other systems see it (the module docstring's shape)."""
    if not is_public(event.type):
        raise ValueError(f"{event.type} is not a public event type")
    event_type = event.event_type
    return {
        "id": str(event.key),
        "type": event.type,
        "version": event_type.version,
        "occurred_at": event.occurred_at.isoformat(),
        "subject": event.stream,
        "sequence": event.pk,
        "data": event_type.public(event_type.dump(event.data)),
    }


def envelope_json(event: Event) -> bytes:
    """The envelope as sent: compact UTF-8 JSON, keys in a fixed order, so the body
    (and a signature over it) is the same on every attempt."""
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()


def subscribe_public(task: "HandlerTask", *, when: Callable[[Event], bool] | None = None) -> None:
    """Run ``task`` on every public event (``when(event)``, if given, decides per
    event: e.g. only while a webhook endpoint wants its type)."""
    for event_type in public_types():
        subscribe(event_type, task, when=when)
