"""Where the export sink tests find real Redis and NATS JetStream (``REDIS_URL``,
``NATS_URL``) and an order's public events, the ones exported (``public_events_of``).
Used by tests/exports."""

from events import public
from events.models import Event

REDIS_URL = "redis://127.0.0.1:6379/5"
NATS_URL = "nats://127.0.0.1:4222"


def public_events_of(order_id: int) -> list[Event]:
    return [e for e in Event.objects.filter(stream=f"order:{order_id}").order_by("id") if public.is_public(e.type)]
