"""NATS JetStream: each event on the subject ``<prefix>.<type>`` (``orderflow.order.paid``)
with the header ``Nats-Msg-Id`` = the envelope id, into the stream
``EVENTS_EXPORT_NATS_STREAM`` on ``<prefix>.>`` (created if missing, its subjects and
duplicate window put right if they differ). JetStream drops a second message with the
same id within the stream's duplicate window, and says so in its ack: a re-sent run
publishes nothing twice. ``publish`` returns once JetStream has acknowledged.

nats-py is asyncio; the Celery worker is not. Each process runs one event loop in a
thread of its own, holding the connection, and the worker's thread waits on each call
with a timeout. The client's own reconnecting is off: a connection that failed is
closed and the next publish connects anew, so a down server fails the call at once
(and the run backs off) instead of queueing messages in the client.
"""

import asyncio
import logging
import threading
from dataclasses import dataclass, field

import nats
from django.conf import settings
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamConfig
from nats.js.errors import NotFoundError

from events import public
from events.models import Event

logger = logging.getLogger(__name__)


class _LoopThread:
    """An event loop running in a daemon thread; ``call`` runs a coroutine on it and
    waits for its result at most ``timeout`` seconds."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="exports-nats", daemon=True)
        self.thread.start()

    def call(self, coro, timeout: float):
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        """Cancel what is left on the loop (a dead connection's reader tasks), then stop
        and close it."""

        async def cancel_the_rest() -> None:
            rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self.call(cancel_the_rest(), timeout=5)
        except Exception:
            logger.debug("exports.nats: cancelling the loop's tasks failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


@dataclass
class NatsJetStreamSink:
    url: str
    prefix: str = "orderflow"
    stream: str = "ORDERFLOW"
    duplicate_window: float = 3600.0
    timeout: float = 5.0
    name: str = "nats"
    _nc: Client | None = field(default=None, init=False, repr=False)
    _js: JetStreamContext | None = field(default=None, init=False, repr=False)
    _loop: _LoopThread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_settings(cls) -> "NatsJetStreamSink":
        return cls(
            url=settings.EVENTS_EXPORT_NATS_URL,
            prefix=settings.EVENTS_EXPORT_PREFIX,
            stream=settings.EVENTS_EXPORT_NATS_STREAM,
            duplicate_window=settings.EVENTS_EXPORT_NATS_DUPLICATE_WINDOW,
            timeout=settings.EVENTS_EXPORT_TIMEOUT,
        )

    def subject_for(self, type_name: str) -> str:
        return f"{self.prefix}.{type_name}"

    def publish(self, event: Event) -> bool:
        """Raises on any error (no connection, no ack in time); the ack of a message
        JetStream already had says ``duplicate``, which is success."""
        event_id = str(event.key)
        # Built here, not on the loop: the loop's thread is async, where Django refuses
        # anything that might touch the database.
        subject, body = self.subject_for(event.type), public.envelope_json(event)
        with self._lock:  # one connection per process; a threaded pool takes turns
            if self._loop is None:
                self._loop = _LoopThread()
            try:
                # Each step has its timeout (two connect tries, the stream's look-up and
                # maybe its creation, the publish's ack); this bounds the lot.
                ack = self._loop.call(self._publish(subject, body, event_id), timeout=5 * self.timeout + 1)
            except BaseException:
                self._drop_quietly()
                raise
        if ack.duplicate:
            logger.info("exports.nats: event %s was exported before; JetStream dropped the copy", event_id)
            return False
        return True

    async def _publish(self, subject: str, body: bytes, event_id: str) -> PubAck:
        js = await self._jetstream()
        return await js.publish(
            subject,
            body,
            timeout=self.timeout,
            stream=self.stream,
            headers={"Nats-Msg-Id": event_id},
        )

    async def _jetstream(self) -> JetStreamContext:
        if self._nc is not None and self._nc.is_connected and self._js is not None:
            return self._js
        await self._drop()
        self._nc = await nats.connect(
            self.url,
            connect_timeout=self.timeout,
            allow_reconnect=False,
            # Two tries and done (0 would mean: try forever): the run's retries, with
            # their backoff, are the way to wait for a server that is down.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=self._on_error,
            name="orderflow-exports",
        )
        js = self._js = self._nc.jetstream(timeout=self.timeout)
        await self._ensure_stream(js)
        return js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        subjects = [f"{self.prefix}.>"]
        try:
            info = await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(name=self.stream, subjects=subjects, duplicate_window=self.duplicate_window)
            )
            logger.info("exports.nats: created JetStream stream %s on %s", self.stream, subjects[0])
            return
        config = info.config
        if subjects[0] not in (config.subjects or []) or config.duplicate_window != self.duplicate_window:
            config.subjects = sorted({*(config.subjects or []), *subjects})
            config.duplicate_window = self.duplicate_window
            await js.update_stream(config)
            logger.info("exports.nats: updated JetStream stream %s (subjects, duplicate window)", self.stream)

    async def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), self.timeout)
            except Exception:
                logger.debug("exports.nats: closing a failed connection failed", exc_info=True)

    def _drop_quietly(self) -> None:
        """After a failed call: the next one starts from a new connection. A failure to
        close must not hide the error that is being raised."""
        if self._loop is None:
            return
        try:
            self._loop.call(self._drop(), timeout=self.timeout + 1)
        except Exception:
            logger.debug("exports.nats: dropping the connection failed", exc_info=True)

    async def _on_error(self, exc: Exception) -> None:
        logger.warning("exports.nats: connection error: %s", exc)

    def close(self) -> None:
        with self._lock:
            if self._loop is not None:
                try:
                    self._loop.call(self._drop(), timeout=self.timeout + 1)
                finally:
                    self._loop.stop()
                    self._loop = None
