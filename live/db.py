"""Database work for the streams, off the event loop, on a few threads of its own.

Every stream reads the database in short calls (authenticate, check the order, read
the events after an id) run on this bounded pool, never on a thread of its own: the
process holds at most ``LIVE_STREAM_DB_THREADS`` database connections for all its
streams (Django's connections are per thread; ``CONN_MAX_AGE`` and the health check
apply before each call, as at the start of a request), however many streams are open.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections, connections

_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.LIVE_STREAM_DB_THREADS, thread_name_prefix="live-db")
    return _executor


def _call(fn, *args, **kwargs):
    close_old_connections()
    return fn(*args, **kwargs)


async def run(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` on a database thread of the pool, awaited."""
    return await SyncToAsync(partial(_call, fn, *args, **kwargs), thread_sensitive=False, executor=executor())()


async def run_on_request_thread(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` on the thread that waits for this request, for a stream
    served synchronously (Django's test client; a WSGI server, which cannot hold a
    stream open anyway): there the request's connection is the one to use (in a test,
    it holds the test's transaction), as a synchronous view's queries would."""
    return await SyncToAsync(partial(fn, *args, **kwargs), thread_sensitive=True)()


def release_request_thread() -> None:
    """Let go of the thread Django's ASGI handler keeps for this request.

    The handler runs each request in an asgiref ``ThreadSensitiveContext``: the first
    synchronous call of the request (a sync middleware, the ``request_started``
    receivers) starts a thread for it, which stays until the response has been sent,
    idle. For a stream that is minutes: a thousand streams, a thousand idle threads.
    The stream's own database work runs on the pool above, so the request's thread is
    shut down here; a synchronous call after this (``request_finished`` when the
    stream ends) starts a new one for that moment. Outside such a context (the test
    client) there is nothing to release.
    """
    context = SyncToAsync.thread_sensitive_context.get(None)
    if context is None:
        return
    request_thread = SyncToAsync.context_to_thread_executor.pop(context, None)
    if request_thread is not None:
        request_thread.shutdown(wait=False)


def close() -> None:
    """Close the pool's database connections and stop its threads (a test's teardown:
    a test database cannot be dropped while connections to it are open). Each thread
    closes its own connections: one call per thread, held at a barrier so that no
    thread takes two."""
    global _executor
    pool, _executor = _executor, None
    if pool is None:
        return
    threads = len(pool._threads)
    if threads:
        barrier = threading.Barrier(threads)

        def close_mine():
            connections.close_all()
            barrier.wait(timeout=30)

        for done in [pool.submit(close_mine) for _ in range(threads)]:
            done.result()
    pool.shutdown(wait=True)
