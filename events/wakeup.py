"""Waking the dispatcher up when events are recorded.

On PostgreSQL a trigger on the events table (migration 0006) sends ``NOTIFY
events_recorded`` when a transaction that wrote events commits; the relay process
LISTENs on a connection of its own and dispatches at once. The notification is only a
hint: nothing is lost with it (a dropped listening connection, a relay started after
the commit), because the relay also looks at the table at every interval. Where there
is no such notification (SQLite), the relay polls, briefly (``EVENTS_DISPATCH_POLL``).
"""

import logging
import threading
from typing import TYPE_CHECKING

from django.db import connection

if TYPE_CHECKING:
    import psycopg

    # psycopg's connection, as Django's backend opens it (rows as tuples).
    Connection = psycopg.Connection[tuple[object, ...]]

logger = logging.getLogger("events.wakeup")

CHANNEL = "events_recorded"


class Polling:
    """Wakes after the timeout, or when stopped."""

    listens = False

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def wait(self, timeout: float, *, gather: float = 0.0) -> bool:
        self.stop.wait(timeout)
        return False

    def close(self) -> None:
        pass


class PostgresListener(Polling):
    """Wakes on ``NOTIFY events_recorded``, after the timeout, or when stopped."""

    listens = True

    def __init__(self, stop: threading.Event) -> None:
        super().__init__(stop)
        self._conn: Connection | None = None

    def wait(self, timeout: float, *, gather: float = 0.0) -> bool:
        """Wait up to ``timeout`` for a notification; once woken, up to ``gather``
        seconds more for the commits that follow, so that one pass serves them all."""
        try:
            conn = self._conn if self._conn is not None else self._listen()
            woken = any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
            if woken:
                for _ in conn.notifies(timeout=gather):
                    pass
            return woken
        except Exception:
            logger.warning("events: lost the LISTEN connection; polling until it is back", exc_info=True)
            self.close()
            super().wait(min(timeout, 1.0))
            return False

    def _listen(self) -> "Connection":
        conn: Connection = connection.get_new_connection(connection.get_connection_params())
        conn.autocommit = True
        conn.execute(f"LISTEN {CHANNEL}")
        self._conn = conn
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def waker(stop: threading.Event) -> Polling:
    """The best way this database has to wake the dispatcher."""
    return PostgresListener(stop) if connection.vendor == "postgresql" else Polling(stop)
