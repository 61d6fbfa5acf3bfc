"""Section 2, pipeline: the highest rate of orders fully processed with a flat backlog.

Fully processed: paid, the confirmation email accepted by the SMTP sink, the points
credited, the in-app notification stored. The offered rate is stepped up
(``pipeline_steps.step_up``: 10, 20, 40, ... orders/s) until a step is not sustained;
the highest sustained rate is the figure (target: at least a quarter of the bare
endpoint's peak on the spread catalog). Then the bench runs at half that rate and
reports the end-to-end latency of those orders: from ``Order.created_at`` to the
moment their last handler finished (``probes.end_to_end_seconds``; target: p99 at
most 100 ms).

At the end, once everything has drained, every order the section placed is audited
(``probes.audit``): paid, with exactly one email, one points entry and one
notification. Any mismatch is reported loudly and fails the run. The backlog samples
of every step make backlog.png.
"""

from .. import pipeline_steps, probes, state
from ..context import Bench
from ..stats import latency_summary


def run(bench: Bench) -> dict:
    p = bench.profile
    bench.stack.ensure_worker(bench.stack.options.worker_concurrency)
    start = state.fresh_tables(bench.stack, wait=p.settle_timeout)
    first_id = probes.last_order_id()
    series = pipeline_steps.Series()

    stepped = pipeline_steps.step_up(bench, series, rates=p.pipeline_rates, seconds=p.step_seconds, label="pipeline")
    sustained = stepped["sustained_rate"]
    half_rate = (sustained or p.pipeline_rates[0]) / 2
    state.wait_settled(bench.stack, p.settle_timeout)
    half_from = probes.last_order_id()
    bench.say(f"pipeline: half rate, {half_rate:g} orders/s for {p.half_rate_seconds:g}s")
    half = pipeline_steps.run_step(bench, series, rate=half_rate, seconds=p.half_rate_seconds, label="half rate")
    return {
        "start": start.as_dict(),
        **stepped,
        "half_rate": {**half, "end_to_end": end_to_end(bench, half_from)},
        "audit": audit(bench, first_id),
        "samples": series.as_list(),
    }


def end_to_end(bench: Bench, after_id: int) -> dict:
    """Latency summary of the orders past ``after_id``, once they are all processed."""
    state.wait_settled(bench.stack, bench.profile.settle_timeout)
    seconds = probes.end_to_end_seconds(after_id, probes.last_order_id())
    return {**latency_summary(seconds), "orders": probes.placed(after_id)}


def audit(bench: Bench, after_id: int) -> dict:
    """The audit of every order past ``after_id``, after waiting for them to be processed."""
    settled_in = state.wait_settled(bench.stack, bench.profile.settle_timeout)
    found = probes.audit(after_id, probes.last_order_id(), bench.mail.message_ids())
    found["settled"] = settled_in is not None
    if not found["ok"]:
        bench.say(f"AUDIT FAILED: {found['problems']} (examples: {found['examples']})")
    return found
