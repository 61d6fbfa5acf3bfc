"""The run's outputs: the table printed at the end, ``results.json``, the PNGs and
``RESULTS.md``.

Every number comes from ``results`` (what the sections measured in this run) or the
run's facts; nothing is filled in. A figure a section could not produce is shown as
"-" and a target that cannot be judged as "not measured".
"""

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import plots
from .run_facts import RunFacts

# The targets (issue, section 2), as the report judges them.
ACCEPT_RATIO = 0.9  # POST /orders peak / bare peak, spread catalog
PIPELINE_RATIO = 0.25  # sustained pipeline rate / bare peak, spread catalog
END_TO_END_P99_MS = 100.0  # at half the sustained pipeline rate
NO_SLOWDOWN_RATIO = 0.9  # accept req/s with 10^6 rows / with empty tables (noise allowance)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None  # None: not measured

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "not measured"}[self.met]


def write_all(facts: RunFacts, results: dict, *, out: Path, results_md: Path | None) -> bool:
    """Print the table, write every output; returns True if the run failed (a section
    errored or an audit found a problem). ``results_md``: where RESULTS.md goes
    (None: into ``out``)."""
    out.mkdir(parents=True, exist_ok=True)
    plots.latency(results.get("accept"), out / "latency.png")
    plots.backlog(results.get("pipeline"), out / "backlog.png")
    goals = targets(results)
    document = {
        "facts": facts.as_dict(),
        "results": results,
        "targets": [{"name": t.name, "measured": t.measured, "verdict": t.verdict} for t in goals],
        "failures": failures(results),
    }
    (out / "results.json").write_text(json.dumps(_finite(document), indent=2, default=str, allow_nan=False))
    text = table(facts, results, goals)
    print(text)
    md_path = results_md or out / "RESULTS.md"
    md_path.write_text(markdown(facts, text, out, md_path.parent))
    print(f"\nwritten: {out / 'results.json'}, {out / 'latency.png'}, {out / 'backlog.png'}, {md_path}")
    return bool(document["failures"])


def failures(results: dict) -> list[str]:
    """What makes the run fail: a section that raised, an audit that found problems."""
    found = [f"{name}: {section['error']}" for name, section in results.items() if "error" in section]
    audit = results.get("pipeline", {}).get("audit")
    if audit and not audit["ok"]:
        found.append(f"pipeline audit: {audit['problems']}")
    return found


def targets(results: dict) -> list[Target]:
    accept = results.get("accept", {}).get("spread")
    pipeline = results.get("pipeline", {})
    growth = results.get("growth", {})
    goals = []
    if accept:
        ratio = accept["ratio"]
        goals.append(Target(f"accept >= {ACCEPT_RATIO}x bare (spread)", f"{ratio:.2f}x", ratio >= ACCEPT_RATIO))
    else:
        goals.append(Target(f"accept >= {ACCEPT_RATIO}x bare (spread)", "-", None))
    if accept and "sustained_rate" in pipeline:
        bare = accept["peak"]["bare"]["rate"]
        ratio = pipeline["sustained_rate"] / bare if bare else 0.0
        measured = f"{pipeline['sustained_rate']:g}/s / {bare:.1f}/s = {ratio:.2f}x"
        goals.append(Target(f"pipeline >= {PIPELINE_RATIO}x bare peak", measured, ratio >= PIPELINE_RATIO))
    else:
        goals.append(Target(f"pipeline >= {PIPELINE_RATIO}x bare peak", "-", None))
    p99 = pipeline.get("half_rate", {}).get("end_to_end", {}).get("p99_ms")
    name = f"end-to-end p99 <= {END_TO_END_P99_MS:g} ms at half rate"
    if p99 is not None and not math.isnan(p99):
        goals.append(Target(name, f"{p99:.0f} ms", p99 <= END_TO_END_P99_MS))
    else:
        goals.append(Target(name, "-", None))
    placement = (growth.get("query_counts", {}).get("counts") or {}).get("placement")
    name = "queries per placement independent of lines"
    if placement:
        measured = " / ".join(f"{n} ({lines})" for lines, n in placement.items())
        goals.append(Target(name, measured, len(set(placement.values())) == 1))
    else:
        goals.append(Target(name, "not measured", None))
    if "full" in growth and growth["empty"]["accept"]["rate"]:
        ratio = growth["full"]["accept"]["rate"] / growth["empty"]["accept"]["rate"]
        rows = growth["full"]["orders_in_table"]
        goals.append(
            Target(
                f"no slowdown with {rows:,} orders (accept >= {NO_SLOWDOWN_RATIO}x empty)",
                f"{ratio:.2f}x",
                ratio >= NO_SLOWDOWN_RATIO,
            )
        )
    else:
        goals.append(Target("no slowdown with 10^6 orders", "-", None))
    return goals


# --- The table ---------------------------------------------------------------------------


def table(facts: RunFacts, results: dict, goals: list[Target]) -> str:
    lines = _header(facts)
    for name, render in (("accept", _accept), ("pipeline", _pipeline), ("growth", _growth), ("workers", _workers)):
        section = results.get(name)
        if section is None:
            continue
        if "error" in section:
            lines += ["", f"{name.upper()}: FAILED: {section['error']}"]
            continue
        lines += ["", *render(section)]
    lines += ["", "TARGETS", *_columns([[t.name, t.measured, t.verdict] for t in goals], indent=2)]
    problems = failures(results)
    if problems:
        lines += ["", "!!! THE RUN FAILED !!!", *(f"  {p}" for p in problems)]
    return "\n".join(lines)


def _header(facts: RunFacts) -> list[str]:
    m, v, c, git = facts.machine, facts.versions, facts.configuration, facts.git
    commit = git["commit"][:12] + (" + uncommitted changes" if git["uncommitted_changes"] else "")
    env = _environment(facts)
    settings = ", ".join(f"{k}={val}" for k, val in facts.effective_settings.items())
    servers = ", ".join(f"{name} {v.get(name, '-')}" for name in ("PostgreSQL", "RabbitMQ", "Redis"))
    return [
        f"ORDERFLOW BENCHMARK ({facts.profile} run), {facts.date}, commit {commit}",
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"load average at start {m['load_average_at_start']}",
        f"versions: {servers}, Python {v['Python']}, Django {v['Django']}, Celery {v['celery']}, "
        f"gunicorn {v['gunicorn']}",
        f"processes: {c['web']}; {c['worker']}; {c['relay']}; beat; SMTP sink",
        f"broker: {c['broker_url']}; database: {c['database_url']}",
        f"from your environment: {env}",
        f"effective settings: {settings}",
    ]


def _accept(section: dict) -> list[str]:
    lines = ["1. ACCEPT: closed loop, peak, the pipeline paused", f"   tables at the start: {section['start']['text']}"]
    rows = [["catalog", "endpoint", "req/s", "p50 ms", "p99 ms", "non-201", "driver CPU", "started after"]]
    for catalog in ("spread", "hot"):
        for endpoint in ("bare", "orders"):
            m = section[catalog]["peak"][endpoint]
            rows.append([catalog, _endpoint(endpoint), _f(m["rate"]), _f(m["p50_ms"]), _f(m["p99_ms"]), _errors(m)])
            rows[-1] += [f"{m['driver_cpu']:.0%}", m["before"]["text"]]
        rows.append([catalog, "ratio orders/bare", f"{section[catalog]['ratio']:.2f}"])
    whole = section["spread"]["peak"].get("orders_with_pipeline")
    if whole:
        ratio = (
            whole["rate"] / section["spread"]["peak"]["bare"]["rate"]
            if section["spread"]["peak"]["bare"]["rate"]
            else 0
        )
        rows.append(["spread", "POST /orders, pipeline running", _f(whole["rate"]), _f(whole["p50_ms"])])
        rows[-1] += [_f(whole["p99_ms"]), _errors(whole), f"{whole['driver_cpu']:.0%}", whole["before"]["text"]]
        rows.append(["spread", "ratio, pipeline running/bare", f"{ratio:.2f}"])
    lines += _columns(rows, indent=2)
    lines += ["", "   open loop: latency against offered load (from each request's scheduled time)"]
    rows = [
        ["catalog", "offered/s", "endpoint", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "late", "non-201"]
    ]
    for catalog in ("spread", "hot"):
        for point in section[catalog]["open_loop"]:
            for endpoint in ("bare", "orders"):
                m = point[endpoint]
                rows.append([catalog, _f(point["offered_rate"]), _endpoint(endpoint), _f(m["rate"])])
                rows[-1] += [*(_f(m[k]) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")), str(m["late"]), _errors(m)]
    return lines + _columns(rows, indent=2)


def _pipeline(section: dict) -> list[str]:
    lines = ["2. PIPELINE: orders fully processed (paid, email, points, notification)"]
    lines.append(f"   tables at the start: {section['start']['text']}")
    lines += _steps([*section["steps"], section["half_rate"]])
    lines.append(f"   highest sustained rate: {section['sustained_rate']:g} orders/s")
    half, e2e = section["half_rate"], section["half_rate"]["end_to_end"]
    lines.append(
        f"   at half that rate ({half['rate']:g}/s for {half['seconds']:g}s), end to end"
        " (created -> last handler done):"
        f" p50 {_f(e2e['p50_ms'])} ms, p90 {_f(e2e['p90_ms'])} ms, p99 {_f(e2e['p99_ms'])} ms,"
        f" max {_f(e2e['max_ms'])} ms over {e2e['count']} orders"
    )
    audit = section["audit"]
    if audit["ok"]:
        lines.append(f"   audit: all {audit['orders']} orders paid, each with 1 email, 1 points entry, 1 notification")
    else:
        lines.append(f"   AUDIT FAILED over {audit['orders']} orders: {audit['problems']}")
        lines.append(f"   examples (order ids): {audit['examples']}")
    return lines


def _steps(steps: Iterable[dict]) -> list[str]:
    rows = [["step", "offered/s", "accepted/s", "accept p99 ms", "max backlog", "slope/s", "drained after", "verdict"]]
    for step in steps:
        drained = "-" if step["drained_after"] is None else f"{step['drained_after']:.1f}s"
        verdict = "sustained" if step["sustained"] else "no: " + "; ".join(step["why_not"])
        accept = step["accept"]
        rows.append(
            [step["label"], f"{step['rate']:g}", _f(accept["rate"]), _f(accept["p99_ms"]), str(step["max_backlog"])]
        )
        rows[-1] += [f"{step['backlog_slope']:.2f}", drained, verdict]
    return _columns(rows, indent=2)


def _growth(section: dict) -> list[str]:
    lines = ["3. GROWTH", "   cost per order by lines (closed loop, spread catalog)"]
    rows = [["lines", "req/s", "p50 ms", "p99 ms", "non-201"]]
    for count, m in section["lines"].items():
        rows.append([count, _f(m["rate"]), _f(m["p50_ms"]), _f(m["p99_ms"]), _errors(m)])
    lines += _columns(rows, indent=2)
    load = section["bulk_load"]
    lines += [
        "",
        f"   full tables: {load['orders']:,} orders ({load['copies']} copies of {load['template_orders']} real ones,"
        f" {sum(load['rows'].values()):,} rows) loaded in {load['seconds']:.0f}s, VACUUM ANALYZE and CHECKPOINT"
        f" {load['vacuum_seconds']:.0f}s",
    ]
    rows = [
        ["tables", "orders in them", "accept req/s", "p50 ms", "pipeline rate", "sustained", "e2e p50 ms", "e2e p99 ms"]
    ]
    for key in ("empty", "full"):
        t = section[key]
        step, e2e = t["pipeline"], t["pipeline"]["end_to_end"]
        rows.append([key, f"{t['orders_in_table']:,}", _f(t["accept"]["rate"]), _f(t["accept"]["p50_ms"])])
        rows[-1] += [f"{step['rate']:g}/s", "yes" if step["sustained"] else "no", _f(e2e["p50_ms"]), _f(e2e["p99_ms"])]
    lines += _columns(rows, indent=2)
    lines += ["", "   SQL queries per placement and per handler (bench/querycount.py):"]
    counts = section["query_counts"]
    if "error" in counts:
        lines.append(f"     failed: {counts['error']}")
    elif not counts["measured"]:
        lines.append("     not measured")
    else:
        for name, value in counts["counts"].items():
            each = ", ".join(f"{what}: {n}" for what, n in value.items()) if isinstance(value, dict) else value
            lines.append(f"     {name}: {each}")
    return lines


def _workers(section: dict) -> list[str]:
    one = section["one_process"]
    drained = "did not drain" if one["drained_in"] is None else f"drained in {one['drained_in']:.1f}s"
    lines = [
        "4. WORKERS",
        f"   one worker process (-c 1), {one['orders']} orders preloaded: {_f(one['handler_runs_per_second'])}"
        f" handler runs/s, {_f(one['orders_per_second'])} orders/s ({one['handler_runs']} runs, {drained})",
        "   pipeline sustained rate by worker concurrency:",
    ]
    for concurrency, scaled in section["scaling"].items():
        lines.append(f"     -c {concurrency}: {scaled['sustained_rate']:g} orders/s")
        lines += ["  " + line for line in _steps(scaled["steps"])]
    return lines


def _columns(rows: list[list[str]], indent: int = 0) -> list[str]:
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    return [" " * indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def _environment(facts: RunFacts) -> str:
    passed = facts.configuration["from_your_environment"]
    return ", ".join(f"{name}={value}" for name, value in passed.items()) or "nothing"


def _endpoint(name: str) -> str:
    return {"bare": "bare baseline", "orders": "POST /orders"}[name]


def _f(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.1f}"


def _errors(measured: dict) -> str:
    errors = measured.get("errors") or {}
    return ", ".join(f"{status}: {n}" for status, n in errors.items()) or "0"


def _finite(value):
    """``value`` with every NaN or infinity (a percentile of no values) as None: JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


# --- RESULTS.md -----------------------------------------------------------------------------


def markdown(facts: RunFacts, text: str, out: Path, md_dir: Path) -> str:
    """RESULTS.md: a generated file; the PNGs by paths relative to where it is written."""
    latency = Path(_relative(out / "latency.png", md_dir))
    backlog = Path(_relative(out / "backlog.png", md_dir))
    m, v = facts.machine, facts.versions
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"Generated by `{facts.command}` on {facts.date}; do not edit (see bench/README.md).",
            "",
            f"- commit: `{facts.git['commit']}`"
            + (" with uncommitted changes" if facts.git["uncommitted_changes"] else ""),
            f"- machine: `nproc` {m['nproc']}, {m['memory_gib']} GiB memory, {m['cpu']}, Linux {m['kernel']},"
            f" load average at start {m['load_average_at_start']}",
            "- versions: " + ", ".join(f"{name} {version}" for name, version in v.items()),
            f"- configuration: {facts.configuration['web']}; {facts.configuration['worker']};"
            f" {facts.configuration['relay']}; broker {facts.configuration['broker']};"
            f" from the environment: {_environment(facts)}",
            "",
            "```text",
            text,
            "```",
            "",
            f"![Latency against offered load]({latency.as_posix()})",
            "",
            f"![Backlog over time]({backlog.as_posix()})",
            "",
        ]
    )


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())
