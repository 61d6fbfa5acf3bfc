"""Between measurements: let the worker finish what the last one left, or start over.

A measurement of the web tier must not share the CPU with the processing of the
previous measurement's orders, and a section must not count another's. Two ways to
get there, and the report says which one each measurement took:

* drained: every event dispatched and no handler run open (``probes.settled``);
* reset: the backlog given up: the worker killed, the task queues purged, the
  order-flow tables emptied (``flow_tables``), the worker started again.

A section starts from empty order-flow tables either way (``fresh_tables``: drained,
then emptied; or reset). The catalog, the accounts and their tokens always stay.
"""

import time
from dataclasses import asdict, dataclass

from . import backing_services, flow_tables, probes
from .processes import Stack

POLL = 0.1  # seconds between two looks at the database


@dataclass(frozen=True)
class Settling:
    how: str  # "drained" or "reset"
    seconds: float
    purged_messages: int = 0  # reset: messages dropped from the queues
    emptied: bool = False  # the order-flow tables were emptied

    def describe(self) -> str:
        if self.how == "reset":
            return (
                f"reset after {self.seconds:.1f}s (backlog given up: {self.purged_messages} queued messages purged,"
                " tables emptied)"
            )
        return f"drained in {self.seconds:.1f}s" + (", tables emptied" if self.emptied else "")

    def as_dict(self) -> dict:
        return {**asdict(self), "text": self.describe()}


def wait_settled(stack: Stack, timeout: float) -> float | None:
    """Seconds it took until no work was in flight, or None after ``timeout``."""
    started = time.monotonic()
    while True:
        if probes.settled():
            return time.monotonic() - started
        stack.check_alive()
        if time.monotonic() - started > timeout:
            return None
        time.sleep(POLL)


def settle(stack: Stack, *, wait: float) -> Settling:
    """Drained within ``wait`` seconds, or reset."""
    started = time.monotonic()
    took = wait_settled(stack, wait)
    if took is not None:
        return Settling("drained", took)
    purged = reset(stack)
    return Settling("reset", time.monotonic() - started, purged, emptied=True)


def fresh_tables(stack: Stack, *, wait: float) -> Settling:
    """Empty order-flow tables and nothing in flight: the start of a section."""
    settling = settle(stack, wait=wait)
    if settling.emptied:
        return settling
    flow_tables.truncate_flow_tables()
    return Settling("drained", settling.seconds, emptied=True)


def reset(stack: Stack) -> int:
    """Give the backlog up; returns how many queued messages were purged."""
    concurrency = stack.worker_concurrency
    stack.stop_worker()
    purged = backing_services.purge_task_queues()
    flow_tables.truncate_flow_tables()
    if concurrency is not None:
        stack.start_worker(concurrency)
    return purged


def wait_processed(stack: Stack, after_id: int, mails_before: int, mail_count, timeout: float) -> float | None:
    """Seconds until every order past ``after_id`` is fully processed (paid, points,
    notification, and as many new emails in the sink as orders), or None after ``timeout``."""
    started = time.monotonic()
    while True:
        placed = probes.placed(after_id)
        if probes.processed(after_id) >= placed and mail_count() - mails_before >= placed:
            return time.monotonic() - started
        stack.check_alive()
        if time.monotonic() - started > timeout:
            return None
        time.sleep(POLL)
