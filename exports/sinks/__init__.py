"""Stream sinks: where public events are exported to, all behind one interface.

A sink publishes one event's envelope (``events.public``) and returns once the backend
has it, or raises: the caller (a handler run, ``exports.tasks``) retries on any error.
Each backend is enabled by its own setting (``EVENTS_EXPORT_REDIS_URL``,
``EVENTS_EXPORT_NATS_URL``, ``EVENTS_EXPORT_KAFKA_BOOTSTRAP``). A sink holds its
connection for the life of the worker process (one per process, made on first use,
after the fork) and makes a new one after an error.
"""

import os
import threading
from collections.abc import Callable
from typing import Protocol

from django.conf import settings

from events.models import Event


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


def _config(name: str) -> tuple:
    """What a sink is made from: a change (a test's settings) makes a new one."""
    return tuple(getattr(settings, key) for key in dir(settings) if key.startswith("EVENTS_EXPORT_"))


_lock = threading.Lock()
_sinks: dict[str, tuple[tuple, Sink]] = {}


def get(name: str, *, build: Callable[[str], Sink] = _build) -> Sink:
    """The process's sink ``name``, made on first use (and again after a fork, or when
    its settings changed)."""
    key = (os.getpid(), _config(name))
    with _lock:
        held = _sinks.get(name)
        if held is not None and held[0] == key:
            return held[1]
        if held is not None and held[0][0] == os.getpid():
            held[1].close()  # settings changed; a forked child leaves its parent's alone
        sink = build(name)
        _sinks[name] = (key, sink)
        return sink


def close_all() -> None:
    with _lock:
        held = list(_sinks.values())
        _sinks.clear()
    for key, sink in held:
        if key[0] == os.getpid():
            sink.close()
