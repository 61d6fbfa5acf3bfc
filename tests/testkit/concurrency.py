"""Run calls at the same moment, each in a thread with its own database connection:
for the tests that prove what a row lock, an advisory lock or a unique constraint
guarantees when requests really race (real PostgreSQL; SQLite serialises writers)."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def at_once(calls: list[Callable[[], T]], *, timeout: float = 60) -> list[T]:
    """Start every call in its own thread, release them together (a barrier), wait for
    all, and return their results in the order of ``calls``. An exception in any call
    is raised here, after every thread has ended; a thread still running after
    ``timeout`` is an error too."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:  # reported by the calling thread
            errors.append(exc)
        finally:
            connection.close()  # each thread's own connection

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"{sum(t.is_alive() for t in threads)} of {len(threads)} calls still running")
    if errors:
        raise errors[0]
    return results
