"""Putting handler runs' tasks on the broker: shared by the dispatcher and the relay.

The dispatcher publishes a batch at a time (``publish_batch``). On RabbitMQ every
publish is confirmed by the broker (the outbox marks an event dispatched on that word
alone), and waiting for each confirm in turn cost a round trip per message; a batch is
published in one go over a connection of the dispatcher's own, in confirm mode, and
its confirms are awaited together. Elsewhere (Redis, the filesystem broker) a publish
returns once the message is stored, and the batch goes over one pooled connection.
"""

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

import amqp
from celery import current_app
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from project.faults import publish_copies

from ..models import HandlerRun, task_id_for

if TYPE_CHECKING:
    from kombu import Producer

    from ..handlers import HandlerSpec, HandlerTask

# What a publish raises when the broker cannot be reached.
BROKER_ERRORS = (BrokerOperationalError, ConnectionError, OSError)


def publish(task: "HandlerTask", event_id: int, *, producer: "Producer | None" = None, **options: Any) -> None:
    """Send the run's task. Its id is deterministic, ``<event id>:<handler>``, so the
    broker, the logs and the admin name the same run."""
    # More than once only in fault tests: every message delivered twice (project/faults.py).
    for _ in range(publish_copies()):
        task.apply_async(
            args=(event_id,),
            task_id=task_id_for(event_id, task.name),
            queue=task.spec.queue,
            producer=producer,
            **options,
        )


def publish_batch(sends: list[tuple["HandlerTask", int]]) -> None:
    """Publish every ``(task, event id)``; return once the broker has them all. Raises
    one of ``BROKER_ERRORS`` if it could not be reached or refused one: then any of
    them may have gone or not, and sending them again is harmless."""
    if not sends:
        return
    if current_app.conf.broker_url.split("://", 1)[0] in ("amqp", "pyamqp", "amqps"):
        _confirmed_link().publish(sends)
        return
    with current_app.producer_or_acquire() as producer:
        for task, event_id in sends:
            publish(task, event_id, producer=producer)


_local = threading.local()


def _confirmed_link() -> "_ConfirmedLink":
    link = getattr(_local, "link", None)
    if link is None:
        link = _local.link = _ConfirmedLink()
    return link


class _ConfirmedLink:
    """A connection and channel in publisher-confirm mode, kept for the process's
    batches and dropped after any error (the next batch opens a new one)."""

    def __init__(self) -> None:
        app = current_app
        # The settings' confirm_publish makes every publish wait for its own confirm:
        # this connection confirms a batch at once instead.
        options = {**app.conf.broker_transport_options, "confirm_publish": False}
        self.connection = app.connection_for_write(transport_options=options)
        try:
            self.connection.ensure_connection(max_retries=1)
            channel = self.connection.channel()
            if not isinstance(channel, amqp.Channel):
                raise TypeError(f"publisher confirms need an AMQP channel, not {type(channel).__name__}")
            self.channel = channel
            self.channel.confirm_select()
        except Exception:
            self.connection.release()
            raise
        # The ignores: amqp's stubs leave out Channel.events (its callbacks by method).
        self.channel.events["basic_ack"].add(self._acked)  # type: ignore[attr-defined]
        self.channel.events["basic_nack"].add(self._nacked)  # type: ignore[attr-defined]
        self.producer = app.amqp.Producer(self.channel)
        self.published = 0  # delivery tags run from 1, one per message on the channel
        self.unconfirmed: set[int] = set()
        self.refused = 0

    def publish(self, sends: list[tuple["HandlerTask", int]]) -> None:
        try:
            for task, event_id in sends:
                for _ in range(publish_copies()):
                    publish(task, event_id, producer=self.producer, retry=False)
                    self.published += 1
                    self.unconfirmed.add(self.published)
            self._await_confirms(timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
        except Exception:
            self.close()
            raise
        if self.refused:
            self.close()
            raise BrokerOperationalError(f"the broker refused {self.refused} message(s) (nack)")

    def _await_confirms(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.unconfirmed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerOperationalError(f"{len(self.unconfirmed)} message(s) not confirmed within {timeout:g}s")
            self.connection.drain_events(timeout=left)

    def _acked(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _nacked(self, delivery_tag: int, multiple: bool) -> None:
        self.refused += self._settle(delivery_tag, multiple)

    def _settle(self, delivery_tag: int, multiple: bool) -> int:
        settled = {tag for tag in self.unconfirmed if tag <= delivery_tag} if multiple else {delivery_tag}
        self.unconfirmed -= settled
        return len(settled)

    def close(self) -> None:
        _local.link = None
        with contextlib.suppress(Exception):  # a connection already gone has nothing to release
            self.connection.release()


def reopen(run: HandlerRun, spec: "HandlerSpec") -> None:
    """Count one more send of an open run and set when the relay may send it again:
    one lease after a first send, and each re-send in a row waits twice as long as the
    last (up to 32 leases), so runs stuck behind a backlog, or on a queue nobody
    consumes, do not pile up copies every pass. The doubling counts ``resends``, which
    starts over when a worker takes the run or staff retry it, so a run that was
    handled once and lost again later is re-sent within a lease, not after the longest
    wait."""
    run.enqueued += 1
    run.deadline = timezone.now() + spec.lease * 2 ** min(run.resends, 5)
    run.save(update_fields=["status", "deadline", "enqueued", "resends", "updated_at"])
