"""What every section is handed: the running stack, the profile, the workload, the
mail log, the results of the sections before it, and a way to say what it is doing."""

import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import load, workload
from .processes import Stack
from .profiles import Profile
from .smtp_sink import MailLog

STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since the run began (the
    report goes to stdout at the end)."""
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Bench:
    stack: Stack
    profile: Profile
    workload: workload.Workload
    mail: MailLog
    results: dict = field(default_factory=dict)  # by section name, filled as they finish
    # One thread for database reads made while the load driver runs (the backlog
    # samples): one connection, reused, and the event loop never waits on the database.
    db_thread: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "bench-db"))

    def say(self, message: str) -> None:
        say(message)

    def warm_up(self) -> None:
        """Traffic to both endpoints (``first_warmup`` seconds each) on twice as many
        connections as there are web processes: the first requests a process serves
        pay for imports and database connections, which no measurement should."""
        connections = 2 * self.stack.options.web_workers
        seconds = self.profile.first_warmup
        for path in (workload.ORDERS_PATH, workload.BARE_PATH):
            pool = self.pool(path)
            asyncio.run(
                load.closed_loop("127.0.0.1", self.stack.web_port, pool, connections=connections, seconds=seconds)
            )

    def pool(self, path: str, *, catalog: str = "spread", lines: int = 2) -> load.RequestPool:
        return self.workload.pool(path, port=self.stack.web_port, catalog=catalog, lines=lines)

    def closed_loop(self, pool: load.RequestPool) -> load.Result:
        p = self.profile
        return asyncio.run(
            load.closed_loop(
                "127.0.0.1",
                self.stack.web_port,
                pool,
                connections=p.connections,
                seconds=p.closed_seconds,
                warmup=p.warmup,
            )
        )

    def open_loop(self, pool: load.RequestPool, rate: float, seconds: float | None = None) -> load.Result:
        seconds = self.profile.open_seconds if seconds is None else seconds
        return asyncio.run(load.open_loop("127.0.0.1", self.stack.web_port, pool, rate=rate, seconds=seconds))
