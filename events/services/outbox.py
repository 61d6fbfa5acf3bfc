"""Recording events: the outbox half of the transactional outbox."""

import uuid
from functools import partial

from django.db import transaction

from project.faults import crash_point, is_armed

from ..models import Event
from ..types import Payload


def record(data: Payload, *, key: uuid.UUID | None = None) -> Event:
    """Add the event ``data`` is the payload of to the outbox, in the caller's transaction.

    The event exists exactly when the change it announces committed: it is written by
    the same transaction, and dispatched after it commits, by the dispatcher
    (``events.services.dispatch``), never from here. So the caller pays one INSERT,
    and no broker is in its way. On PostgreSQL the insert wakes the dispatcher up
    (a NOTIFY sent by a trigger when the transaction commits), and so do the live
    streams of the event's stream (events migration 0007).

    ``key``, the event's idempotency key for calls that leave the system, is new
    unless the caller owns one already (an order's charge key: its ``order.placed``
    event carries it to the charge handler).

    The caller holds the lock of what the event is about (an order's row) until it
    commits, so one stream's events commit in id order: the live order stream resumes
    from an event id on that (``orders.services.hold_for_events`` names every writer).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events.record must run inside the transaction of the change it announces")
    event_type = type(data).event_type
    if event_type is None:
        raise TypeError(f"{type(data).__name__} is not the payload of any event type")
    event = Event.objects.create(
        key=key or uuid.uuid4(),
        type=event_type.name,
        version=event_type.version,
        stream=event_type.stream_of(data),
        payload=event_type.dump(data),
    )
    if is_armed("events.after_commit"):
        # Fault tests: die with the change committed and the caller not yet answered.
        transaction.on_commit(partial(crash_point, "events.after_commit"))
    return event
