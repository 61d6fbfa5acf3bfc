"""Stream sinks: where public events are exported to, all behind one interface.

A sink publishes one event's envelope (``events.public``) and returns once the backend
has it, or raises: the caller (a handler run, ``exports.tasks``) retries on any error.
Each backend is enabled by its own setting (``EVENTS_EXPORT_REDIS_URL``,
``EVENTS_EXPORT_NATS_URL``, ``EVENTS_EXPORT_KAFKA_BOOTSTRAP``). A sink holds its
connection for the life of the worker process (one per process, made on first use,
after the fork) and makes a new one after an error.
"""

import logging
import os
import threading
from typing import Protocol

from django.conf import settings

from events.models import Event

logger = logging.getLogger(__name__)


class Sink(Protocol):
    name: str

    def publish(self, event: Event) -> bool:
        """Export ``event`` (a public one); return once the backend has it, raise
        otherwise. True if added, False if the backend had it already: a second call
        for the same event adds no second copy where the backend can tell (Redis: a
        marker; NATS: ``Nats-Msg-Id``; Kafka cannot, and always says True)."""

    def close(self) -> None: ...


# name -> the setting that enables it (its value is the address)
SETTINGS = {
    "redis": "EVENTS_EXPORT_REDIS_URL",
    "nats": "EVENTS_EXPORT_NATS_URL",
    "kafka": "EVENTS_EXPORT_KAFKA_BOOTSTRAP",
}


def is_enabled(name: str) -> bool:
    return bool(getattr(settings, SETTINGS[name]))


def enabled() -> list[str]:
    return [name for name in SETTINGS if is_enabled(name)]


def _build(name: str) -> Sink:
    # Imported here: a process that exports to nothing never loads the clients.
    if name == "redis":
        from .redis_streams import RedisStreamSink

        return RedisStreamSink.from_settings()
    if name == "nats":
        from .nats_jetstream import NatsJetStreamSink

        return NatsJetStreamSink.from_settings()
    if name == "kafka":
        from .kafka import KafkaSink

        return KafkaSink.from_settings()
    raise ValueError(f"no sink named {name!r}")


# What the sinks are made from (project/settings.py): a change (a test's settings)
# makes new ones.
CONFIG = (
    "EVENTS_EXPORT_REDIS_URL",
    "EVENTS_EXPORT_NATS_URL",
    "EVENTS_EXPORT_KAFKA_BOOTSTRAP",
    "EVENTS_EXPORT_PREFIX",
    "EVENTS_EXPORT_REDIS_STREAM_PER_TYPE",
    "EVENTS_EXPORT_REDIS_MAXLEN",
    "EVENTS_EXPORT_REDIS_DEDUP_DAYS",
    "EVENTS_EXPORT_NATS_STREAM",
    "EVENTS_EXPORT_NATS_DUPLICATE_WINDOW",
    "EVENTS_EXPORT_KAFKA_CONFIG",
    "EVENTS_EXPORT_KAFKA_MESSAGE_TIMEOUT",
    "EVENTS_EXPORT_TIMEOUT",
)


def _config() -> tuple:
    return tuple(getattr(settings, key) for key in CONFIG)


_lock = threading.Lock()
_sinks: dict[str, tuple[tuple, Sink]] = {}


def get(name: str) -> Sink:
    """The process's sink ``name``, made on first use (and again after a fork, or when
    its settings changed)."""
    key = (os.getpid(), _config())
    with _lock:
        held = _sinks.get(name)
        if held is not None and held[0] == key:
            return held[1]
        if held is not None and held[0][0] == os.getpid():
            _close(held[1])  # settings changed; a forked child leaves its parent's alone
        sink = _build(name)
        _sinks[name] = (key, sink)
        return sink


def close_all() -> None:
    with _lock:
        held = list(_sinks.values())
        _sinks.clear()
    for key, sink in held:
        if key[0] == os.getpid():
            _close(sink)


def _close(sink: Sink) -> None:
    try:
        sink.close()
    except Exception:
        logger.warning("exports: closing the %s sink failed", sink.name, exc_info=True)
