"""Reads of the live order stream: one order's public events after an id."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Max

from events import public
from events.models import Event
from users.selectors import User

BATCH = 100  # events read at a time; a stream with more reads again at once


@dataclass(frozen=True)
class StreamEvent:
    id: int  # the sequence: the event's id, which commits in order within an order
    type: str
    envelope: bytes  # events.public.envelope_json


def stream_of(order_id: int) -> str:
    return f"order:{order_id}"


def events_after(stream: str, after: int, *, limit: int = BATCH) -> list[StreamEvent]:
    """The stream's public events with an id above ``after``, oldest first, at most
    ``limit``, as their public envelopes (never a private field)."""
    events = Event.objects.filter(stream=stream, id__gt=after, type__in=public.PUBLIC_EVENT_TYPES).order_by("id")
    return [StreamEvent(e.pk, e.type, public.envelope_json(e)) for e in events[:limit]]


def latest_event_id() -> int:
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def streams_written_after(after: int) -> dict[str, int]:
    """Each stream with events above id ``after``, with its highest id (the SQLite
    poll's one query)."""
    rows = Event.objects.filter(id__gt=after).order_by().values("stream").annotate(last=Max("id"))
    return {row["stream"]: row["last"] for row in rows}


def active_user(user_id: int) -> User | None:
    """The active user with this id (their shopper profile fetched along), or None."""
    return get_user_model().objects.select_related("customer").filter(pk=user_id, is_active=True).first()
