"""One handler per sink: each (event, sink) is a handler run of its own, so a sink that
is down retries (with the events machinery's backoff, on the queue ``exports``) without
holding the other sinks or any other work, and is caught up when it is back."""

from django.conf import settings

from events.handlers import event_handler
from events.models import Event

from . import services

# Enough attempts to ride out a sink down for a while (EVENTS_EXPORT_MAX_ATTEMPTS).
ATTEMPTS = settings.EVENTS_EXPORT_MAX_ATTEMPTS


@event_handler("exports.redis", queue="exports", max_attempts=ATTEMPTS)
def to_redis(event: Event) -> None:
    """Every public event: XADD to the Redis stream (EVENTS_EXPORT_REDIS_URL)."""
    services.export(event, "redis")


@event_handler("exports.nats", queue="exports", max_attempts=ATTEMPTS)
def to_nats(event: Event) -> None:
    """Every public event: publish to NATS JetStream (EVENTS_EXPORT_NATS_URL)."""
    services.export(event, "nats")


@event_handler("exports.kafka", queue="exports", max_attempts=ATTEMPTS)
def to_kafka(event: Event) -> None:
    """Every public event: produce to the Kafka topic (EVENTS_EXPORT_KAFKA_BOOTSTRAP)."""
    services.export(event, "kafka")


BY_SINK = {"redis": to_redis, "nats": to_nats, "kafka": to_kafka}
