"""Section 1, accept: how fast the API takes orders, against the bare baseline.

For each catalog (spread: 2 random lines of the 1,000 products; hot: 1 line of
``HOT-1``, every order locking the same row):

1. closed loop on the bare endpoint, then on ``POST /api/v1/orders``: peak req/s and
   latency of each, and their ratio orders/bare (the target: at least 0.9 on spread);
2. open loop at fractions of the bare peak (25/50/75/90 %), on both endpoints: the
   achieved rate and the latency against the offered load (latency.png).

Both endpoints are measured with the pipeline paused (``Stack.pipeline_paused``: the
worker, the relay and beat stopped): what is compared is what a request costs the
machine that answers it. Orders taken meanwhile wait in the outbox and are processed
once the pipeline goes on, before the next measurement (the bench waits for their
backlog to drain, or gives it up and empties the tables, ``bench.state``; each
measurement records which). On the spread catalog, ``POST /api/v1/orders`` is also
measured with the pipeline running (``orders_with_pipeline``): then each order's
charge, email, points and notification share the two cores with the requests, which
is the whole system's capacity rather than the API's (section 2 measures that on its
own terms).
"""

from .. import state
from ..context import Bench
from ..load import Result
from ..workload import BARE_PATH, ORDERS_PATH

CATALOGS = ("spread", "hot")


def run(bench: Bench) -> dict:
    bench.stack.ensure_worker(bench.stack.options.worker_concurrency)
    start = state.fresh_tables(bench.stack, wait=bench.profile.settle_timeout)
    return {"start": start.as_dict(), **{catalog: _catalog(bench, catalog) for catalog in CATALOGS}}


def _catalog(bench: Bench, catalog: str) -> dict:
    pools = {
        "bare": bench.pool(BARE_PATH, catalog=catalog),
        "orders": bench.pool(ORDERS_PATH, catalog=catalog),
    }
    peak = {}
    for endpoint in ("bare", "orders"):
        settling = state.settle(bench.stack, wait=bench.profile.drain_wait)
        bench.say(f"accept/{catalog}: closed loop on {endpoint}, pipeline paused ({settling.describe()})")
        with bench.stack.pipeline_paused():
            peak[endpoint] = _measured(bench.closed_loop(pools[endpoint]), settling)
        bench.say(f"accept/{catalog}: {endpoint} peak {peak[endpoint]['rate']:.1f} req/s")
    ratio = peak["orders"]["rate"] / peak["bare"]["rate"] if peak["bare"]["rate"] else 0.0
    if catalog == "spread":
        settling = state.settle(bench.stack, wait=bench.profile.drain_wait)
        bench.say(f"accept/{catalog}: closed loop on orders, pipeline running ({settling.describe()})")
        peak["orders_with_pipeline"] = _measured(bench.closed_loop(pools["orders"]), settling)
        bench.say(f"accept/{catalog}: orders peak with the pipeline {peak['orders_with_pipeline']['rate']:.1f} req/s")

    curve = []
    if peak["bare"]["rate"] <= 0:
        bench.say(f"accept/{catalog}: the bare endpoint answered nothing in time; no open loop to run")
    for fraction in bench.profile.open_fractions if peak["bare"]["rate"] > 0 else ():
        rate = fraction * peak["bare"]["rate"]
        point = {"fraction": fraction, "offered_rate": rate}
        for endpoint in ("bare", "orders"):
            settling = state.settle(bench.stack, wait=bench.profile.drain_wait)
            bench.say(f"accept/{catalog}: open loop on {endpoint} at {rate:.1f} req/s ({settling.describe()})")
            with bench.stack.pipeline_paused():
                point[endpoint] = _measured(bench.open_loop(pools[endpoint], rate), settling)
        curve.append(point)
    return {"peak": peak, "ratio": ratio, "open_loop": curve}


def _measured(result: Result, settling: state.Settling) -> dict:
    return {**result.summary(), "errors": result.errors(), "before": settling.as_dict()}
