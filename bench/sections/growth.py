"""Section 3, growth: does an order cost more when it is bigger, or the tables are full?

1. Lines: closed-loop accept req/s and p50 for orders of 1, 10 and 100 lines (spread
   catalog, distinct random products), the pipeline paused as in the accept section.
2. Tables: on emptied tables, then again with a million orders (and their events,
   handler runs, payments, points, notifications, emails) in the tables:

   * closed-loop accept req/s and p50 (2 lines, spread; the pipeline paused);
   * the pipeline at a fixed moderate rate (half the sustained rate the pipeline
     section found, else the profile's default): sustained or not, and the
     end-to-end latency of its orders.

   The million rows are clones of the rows the "empty" measurements left
   (``bulk_load``), then ``VACUUM ANALYZE``. Target: no slowdown (the report takes
   the full tables' accept rate at 0.9x the empty tables' or better as none,
   allowing for the noise of a shared machine).
3. Queries: SQL statements per placement, dispatcher pass and handler, with the tables
   full (``bench/querycount.py``).
"""

from .. import bulk_load, pipeline_steps, probes, querycount_hook, state
from ..context import Bench
from ..stats import latency_summary
from ..workload import ORDERS_PATH


def run(bench: Bench) -> dict:
    p = bench.profile
    bench.stack.ensure_worker(bench.stack.options.worker_concurrency)
    result = {"start": state.fresh_tables(bench.stack, wait=p.settle_timeout).as_dict()}

    lines = {}
    for count in p.line_counts:
        settling = state.settle(bench.stack, wait=p.drain_wait)
        bench.say(f"growth: closed loop, {count}-line orders ({settling.describe()})")
        with bench.stack.pipeline_paused():
            measured = bench.closed_loop(bench.pool(ORDERS_PATH, lines=min(count, len(bench.workload.skus))))
        lines[str(count)] = {**measured.summary(), "errors": measured.errors(), "before": settling.as_dict()}
    result["lines"] = lines

    rate = _moderate_rate(bench)
    state.fresh_tables(bench.stack, wait=p.settle_timeout)
    result["empty"] = _tables(bench, rate, "empty tables")
    state.wait_settled(bench.stack, p.settle_timeout)
    bench.say(f"growth: cloning to {p.growth_orders:,} orders")
    result["bulk_load"] = bulk_load.clone_to(p.growth_orders, bench.say)
    result["bulk_load"]["vacuum_seconds"] = bulk_load.vacuum_analyze()
    bench.say(f"growth: {result['bulk_load']['orders']:,} orders in the table")
    result["full"] = _tables(bench, rate, f"{result['bulk_load']['orders']:,} orders")
    result["query_counts"] = _query_counts(bench)
    return result


def _tables(bench: Bench, rate: float, label: str) -> dict:
    """Accept peak, then the pipeline at ``rate``, with the tables as they are. Only
    ever waits for the worker: a reset would empty the tables this measures."""
    p = bench.profile
    settled_in = state.wait_settled(bench.stack, p.settle_timeout)
    orders_in_table = probes.placed(0)
    bench.say(f"growth: closed loop on {label}")
    with bench.stack.pipeline_paused():
        accept = bench.closed_loop(bench.pool(ORDERS_PATH))
    pipeline_settled_in = state.wait_settled(bench.stack, p.settle_timeout)
    after_id = probes.last_order_id()
    bench.say(f"growth: pipeline at {rate:g} orders/s on {label}")
    step = pipeline_steps.run_step(
        bench, pipeline_steps.Series(), rate=rate, seconds=p.growth_pipeline_seconds, label=label
    )
    state.wait_settled(bench.stack, p.settle_timeout)
    e2e = latency_summary(probes.end_to_end_seconds(after_id, probes.last_order_id()))
    return {
        "orders_in_table": orders_in_table,
        "accept": {**accept.summary(), "errors": accept.errors(), "settled_before": settled_in},
        "pipeline": {**step, "end_to_end": e2e, "settled_before": pipeline_settled_in},
    }


def _moderate_rate(bench: Bench) -> float:
    sustained = bench.results.get("pipeline", {}).get("sustained_rate") or 0
    return sustained / 2 if sustained else bench.profile.growth_default_rate


def _query_counts(bench: Bench) -> dict:
    try:
        counts = querycount_hook.query_counts()
    except Exception as exc:  # someone else's module: report its failure, keep the run's figures
        bench.say(f"growth: bench/querycount.py failed: {exc!r}")
        return {"measured": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"measured": counts is not None, "counts": counts}
