"""Section 4, workers: what one worker process gets through, and how it scales.

1. Events per second per worker process: with the worker stopped, N orders are placed
   (the web process hands each order.placed to the broker at commit; the bench waits
   until no event is left undispatched, which the relay would take care of). Then one
   worker starts with ``-c 1`` and the bench waits until every order is fully
   processed. Handler runs finished per second, from the first to the last
   ``HandlerRun.finished_at`` of those orders' events (``probes.runs_finished``), is
   the figure; orders per second over the same stretch beside it.
2. The pipeline's sustained rate (section 2's steps, shorter) with ``-c 1``, ``-c 2``
   and ``-c 4``, each from fresh tables.

The worker goes back to the run's concurrency at the end.
"""

import asyncio
import time

from .. import load, pipeline_steps, probes, state
from ..context import Bench
from ..workload import ORDERS_PATH


def run(bench: Bench) -> dict:
    p = bench.profile
    result = {"one_process": _drain_rate(bench)}
    scaling = {}
    for concurrency in p.worker_concurrencies:
        bench.stack.ensure_worker(concurrency)
        start = state.fresh_tables(bench.stack, wait=p.settle_timeout)
        stepped = pipeline_steps.step_up(
            bench,
            pipeline_steps.Series(),
            rates=p.pipeline_rates,
            seconds=p.worker_step_seconds,
            label=f"workers -c {concurrency}",
        )
        scaling[str(concurrency)] = {"start": start.as_dict(), **stepped}
    result["scaling"] = scaling
    bench.stack.ensure_worker(bench.stack.options.worker_concurrency)
    return result


def _drain_rate(bench: Bench) -> dict:
    p = bench.profile
    stack = bench.stack
    start = state.fresh_tables(stack, wait=p.settle_timeout)
    stack.stop_worker()
    after_id = probes.last_order_id()
    mails_before = bench.mail.count()
    bench.say(f"workers: placing {p.preload_orders} orders with no worker running")
    placed = asyncio.run(
        load.place(
            "127.0.0.1", stack.web_port, bench.pool(ORDERS_PATH), count=p.preload_orders, connections=p.connections
        )
    )
    dispatched_in = _wait_dispatched(bench)
    bench.say("workers: one worker, -c 1, drains the backlog")
    stack.start_worker(1)
    drained_in = state.wait_processed(stack, after_id, mails_before, bench.mail.count, p.settle_timeout)
    runs = probes.runs_finished(after_id)
    orders = probes.processed(after_id)
    span = (runs.last - runs.first) if runs.first is not None else 0.0
    return {
        "start": start.as_dict(),
        "orders": p.preload_orders,
        "placing": {**placed.summary(), "errors": placed.errors()},
        "dispatched_in": dispatched_in,
        "drained_in": drained_in,
        "orders_processed": orders,
        "handler_runs": runs.count,
        "handler_runs_per_second": runs.rate,
        "orders_per_second": orders / span if span > 0 else 0.0,
    }


def _wait_dispatched(bench: Bench) -> float | None:
    """Seconds until no event is left undispatched (None after the settle timeout)."""
    started = time.monotonic()
    while probes.undispatched_events():
        bench.stack.check_alive()
        if time.monotonic() - started > bench.profile.settle_timeout:
            return None
        time.sleep(state.POLL)
    return time.monotonic() - started
