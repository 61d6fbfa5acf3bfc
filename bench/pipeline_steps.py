"""Offering orders at a fixed rate and watching the backlog: the pipeline's yardstick.

A step sends orders (spread catalog, 2 lines) in open loop at one rate for a while and
samples, every ``sample_interval`` seconds, how many of the orders placed since the
step began are not fully processed yet (``probes``; the email counted from the SMTP
sink):

    backlog = placed - min(processed in the database, new emails in the sink)

After the last answer it keeps sampling until the backlog is gone, for at most
``step_drain_seconds``. A step is **sustained** when all of these hold:

1. every request was answered 201, and the last answer came at most
   ``step_drain_seconds`` after the last request was due (the web tier kept up);
2. the backlog was not growing: the least-squares slope of the samples taken in the
   second half of the sending time is under 2 % of the rate (e.g. under 2 orders/s
   at 100 orders/s), or under 0.5 orders/s at low rates, where whole orders sampled
   twice a second make that much noise;
3. the backlog was back to zero at most ``step_drain_seconds`` after the last answer.

A step whose backlog passes twice what the rate brings in ``step_drain_seconds``
cannot meet 3 any more: it is stopped early (no request is sent after that), which
keeps the backlog an overloaded step leaves behind small.
"""

import asyncio
import time
from dataclasses import asdict, dataclass, field

from . import load, probes, state
from .context import Bench
from .stats import slope
from .workload import ORDERS_PATH

SLOPE_LIMIT = 0.02  # of the rate: the most the backlog may grow per second and be "flat"
SLOPE_FLOOR = 0.5  # orders/s: below this a slope is sampling noise, whatever the rate
ABORT_FACTOR = 2.0  # a backlog past this many times rate x drain time stops the step


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the series began
    rate: float  # the step's offered rate
    placed: int
    processed: int
    mails: int
    backlog: int
    sending: bool  # requests were still being sent


@dataclass
class Series:
    """Samples over several steps, on one time axis (backlog.png)."""

    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)

    def as_list(self) -> list[dict]:
        return [asdict(s) for s in self.samples]


def run_step(bench: Bench, series: Series, *, rate: float, seconds: float, label: str = "") -> dict:
    """One step at ``rate`` orders/s for ``seconds``; returns its figures and verdict."""
    p = bench.profile
    after_id = probes.last_order_id()
    mails_before = bench.mail.count()
    pool = bench.pool(ORDERS_PATH)
    drain_limit = p.step_drain_seconds
    abort_at = ABORT_FACTOR * rate * drain_limit
    step_samples: list[Sample] = []

    def take(sending: bool) -> Sample:
        placed = probes.placed(after_id)
        processed = probes.processed(after_id)
        mails = bench.mail.count() - mails_before
        return Sample(
            t=time.monotonic() - series.started,
            rate=rate,
            placed=placed,
            processed=processed,
            mails=mails,
            backlog=placed - min(processed, mails),
            sending=sending,
        )

    async def step() -> tuple[load.Result, float | None, bool]:
        stop = asyncio.Event()
        sending = asyncio.create_task(
            load.open_loop("127.0.0.1", bench.stack.web_port, pool, rate=rate, seconds=seconds, stop=stop)
        )
        answered_at = None
        while True:
            # In the bench's database thread: the event loop keeps sending meanwhile.
            sample = await asyncio.get_running_loop().run_in_executor(bench.db_thread, take, not sending.done())
            step_samples.append(sample)
            if not sending.done():
                if sample.backlog > abort_at:
                    stop.set()
            else:
                if answered_at is None:
                    answered_at = sample.t
                if sample.backlog == 0:
                    return sending.result(), sample.t - answered_at, stop.is_set()
                if sample.t - answered_at > drain_limit:
                    return sending.result(), None, stop.is_set()
            await asyncio.sleep(p.sample_interval)

    t_start = time.monotonic() - series.started
    result, drained_after, aborted = asyncio.run(step())
    series.samples.extend(step_samples)
    return _verdict(result, step_samples, t_start, seconds, rate, drained_after, aborted, drain_limit, label)


def _verdict(result, samples, t_start, seconds, rate, drained_after, aborted, drain_limit, label) -> dict:
    late_answers = result.seconds - seconds
    second_half = [(s.t, s.backlog) for s in samples if s.sending and s.t >= t_start + seconds / 2]
    growth = slope(second_half)
    reasons = []
    if aborted:
        reasons.append(f"stopped early: backlog over {ABORT_FACTOR:g} x rate x {drain_limit:g}s")
    if result.errors():
        reasons.append(f"answers other than 201: {result.errors()}")
    if late_answers > drain_limit:
        reasons.append(f"the web tier fell behind: last answer {late_answers:.1f}s after the last request was due")
    if growth >= max(SLOPE_LIMIT * rate, SLOPE_FLOOR):
        reasons.append(f"backlog growing by {growth:.1f} orders/s in the second half")
    if drained_after is None:
        reasons.append(f"backlog not drained within {drain_limit:g}s")
    return {
        "label": label,
        "rate": rate,
        "seconds": seconds,
        "accept": {**result.summary(), "errors": result.errors()},
        "backlog_slope": growth,
        "max_backlog": max((s.backlog for s in samples), default=0),
        "drained_after": drained_after,
        "sustained": not reasons,
        "why_not": reasons,
        "t_start": t_start,
    }


def step_up(bench: Bench, series: Series, *, rates, seconds: float, label: str) -> dict:
    """Steps at each rate in turn until one is not sustained, waiting between steps
    for the system to settle. Returns the steps and the highest sustained rate (0 if none)."""
    steps = []
    best = 0.0
    for rate in rates:
        took = state.wait_settled(bench.stack, bench.profile.settle_timeout)
        bench.say(f"{label}: {rate:g} orders/s for {seconds:g}s (settled in {_seconds(took)})")
        step = run_step(bench, series, rate=rate, seconds=seconds, label=label)
        steps.append(step)
        verdict = "sustained" if step["sustained"] else "NOT sustained: " + "; ".join(step["why_not"])
        bench.say(f"{label}: {rate:g} orders/s {verdict}")
        if not step["sustained"]:
            break
        best = rate
    return {"steps": steps, "sustained_rate": best}


def _seconds(took: float | None) -> str:
    return "timed out" if took is None else f"{took:.1f}s"
