"""Waking the open streams of a process when their order has new events.

One ``Hub`` per event loop (one per server process): it keeps which streams are open
and wakes them; the woken streams read what is new from the database themselves, from
the last id each has sent, so the hub's news are only hints and may be lost or
repeated without harm (each stream also re-reads at every heartbeat).

* PostgreSQL: one connection of the process LISTENs on ``events_stream``, which a
  trigger NOTIFYs with the event's stream on commit (events migration 0007). That is
  one connection for all the process's streams, whatever their number. Lost, it is
  made again, and every stream is woken to catch up on what it missed meanwhile.
* SQLite (no notifications): the hub polls the events table every
  ``LIVE_STREAM_POLL`` seconds, one query for all streams, and wakes those with new
  events (ids grow in commit order there: SQLite has one writer at a time).

The hub runs while a stream is open and stops with the last one, so an idle process
holds no LISTEN connection.
"""

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict

import psycopg
from django.conf import settings
from django.db import connection

from . import db, selectors

logger = logging.getLogger("live.hub")

CHANNEL = "events_stream"
READY_WAIT = 5.0  # seconds a new stream waits for the hub to listen before it reads
RECONNECT_DELAY = 1.0


def _listen_params() -> dict:
    params = connection.get_connection_params()
    for sync_only in ("cursor_factory", "context"):  # Django's, for its synchronous connection
        params.pop(sync_only, None)
    return params


class Hub:
    def __init__(self) -> None:
        self._wakes: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def watch(self, stream: str) -> asyncio.Event:
        """An ``asyncio.Event`` set whenever ``stream`` may have new events, until
        ``unwatch``. Returns once the hub listens (or gave up waiting for it), so that
        whatever commits after the caller's next read wakes it."""
        wake = asyncio.Event()
        self._wakes[stream].add(wake)
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="live-hub")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ready.wait()), READY_WAIT)
        return wake

    def unwatch(self, stream: str, wake: asyncio.Event) -> None:
        wakes = self._wakes.get(stream)
        if wakes is not None:
            wakes.discard(wake)
            if not wakes:
                del self._wakes[stream]
        if not self._wakes and self._task is not None:
            self._task.cancel()  # the last stream is gone: so is the LISTEN connection
            self._task = None

    @property
    def open_streams(self) -> int:
        return sum(len(w) for w in self._wakes.values())

    def wake(self, stream: str) -> None:
        for wake in self._wakes.get(stream, ()):
            wake.set()

    def wake_all(self) -> None:
        for wakes in self._wakes.values():
            for wake in wakes:
                wake.set()

    async def _run(self) -> None:
        if connection.vendor == "postgresql":
            await self._listen()
        else:
            await self._poll()

    async def _listen(self) -> None:
        while True:
            try:
                params = await db.run(_listen_params)
                conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    self.wake_all()  # whatever committed before we listened
                    async for note in conn.notifies():
                        self.wake(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("live: lost the LISTEN connection; streams re-read at their heartbeat", exc_info=True)
                self._ready.set()  # do not hold new streams back: they read the table anyway
                self.wake_all()
                await asyncio.sleep(RECONNECT_DELAY)

    async def _poll(self) -> None:
        last = await db.run(selectors.latest_event_id)
        self._ready.set()
        while True:
            await asyncio.sleep(settings.LIVE_STREAM_POLL)
            try:
                written = await db.run(selectors.streams_written_after, last)
            except Exception:
                logger.warning("live: polling the events failed; trying again", exc_info=True)
                continue
            for stream, last_id in written.items():
                self.wake(stream)
                last = max(last, last_id)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The running event loop's hub."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]
