"""``bench/run.py --smoke`` runs end to end and writes well-formed results.

It starts the whole production shape on the configured servers (PostgreSQL from
DATABASE_URL, the broker from CELERY_BROKER_URL, each with the bench's own database and
vhost on them), runs every section with tiny sizes and checks that every figure the
report promises is there: present, finite, positive where a working system cannot
give zero, and the PNGs real PNGs. It never asserts a speed: on a shared machine a
speed says nothing about the code.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMEOUT = 280  # seconds; under the suite's per-test limit


def require_postgres() -> None:
    scheme = urlsplit(os.environ.get("DATABASE_URL", "")).scheme
    if scheme not in ("postgres", "postgresql", "pgsql"):
        pytest.skip(
            "the benchmark runs on PostgreSQL only; set DATABASE_URL=postgres://... "
            f"(here: {scheme + '://' if scheme else 'unset, the embedded SQLite'})"
        )


COMMITTED_RESULTS = ROOT / "bench" / "RESULTS.md"


def fingerprint(path: Path) -> tuple | None:
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path, tuple | None]:
    """The run's process, its output directory, and bench/RESULTS.md's state before it."""
    require_postgres()
    out = tmp_path_factory.mktemp("bench-smoke")
    committed = fingerprint(COMMITTED_RESULTS)
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return done, out, committed


@pytest.fixture(scope="module")
def results(smoke_run) -> dict:
    done, out, _ = smoke_run
    assert done.returncode == 0, f"bench/run.py --smoke exited {done.returncode}\n{done.stdout}\n{done.stderr[-8000:]}"
    return json.loads((out / "results.json").read_text())


def figure(results: dict, path: str):
    value = results
    for key in path.split("."):
        assert isinstance(value, dict), f"results.json: {path} is not under an object"
        assert key in value, f"results.json has no {path}"
        value = value[key]
    return value


def number(results: dict, path: str, *, positive: bool = False) -> float:
    value = figure(results, path)
    assert isinstance(value, int | float), f"{path} is {value!r}, not a number"
    assert not isinstance(value, bool), f"{path} is {value!r}, not a number"
    assert math.isfinite(value), f"{path} is {value}"
    assert value > 0 if positive else value >= 0, f"{path} is {value}"
    return value


def latency(results: dict, path: str) -> None:
    for q in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
        number(results, f"{path}.{q}", positive=True)
    assert figure(results, f"{path}.p50_ms") <= figure(results, f"{path}.p99_ms") <= figure(results, f"{path}.max_ms")


def test_exits_0_and_writes_every_output(smoke_run, results):
    _, out, _ = smoke_run
    for name in ("latency.png", "backlog.png"):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE), f"{name} is not a PNG"
    assert (out / "RESULTS.md").exists()
    assert figure(results, "failures") == []


def test_leaves_the_committed_results_alone(smoke_run):
    _, _, before = smoke_run
    assert fingerprint(COMMITTED_RESULTS) == before, "a smoke run must not rewrite bench/RESULTS.md"


def test_run_facts(results):
    assert figure(results, "facts.profile") == "smoke"
    number(results, "facts.machine.nproc", positive=True)
    for name in ("PostgreSQL", "Python", "Django"):
        assert figure(results, f"facts.versions.{name}")
    assert figure(results, "facts.git.commit")


def test_accept_figures(results):
    for catalog in ("spread", "hot"):
        base = f"results.accept.{catalog}"
        for endpoint in ("bare", "orders"):
            number(results, f"{base}.peak.{endpoint}.rate", positive=True)
            latency(results, f"{base}.peak.{endpoint}")
            assert figure(results, f"{base}.peak.{endpoint}.errors") == {}
        number(results, f"{base}.ratio", positive=True)
        if catalog == "spread":  # also measured with the pipeline running
            number(results, f"{base}.peak.orders_with_pipeline.rate", positive=True)
            latency(results, f"{base}.peak.orders_with_pipeline")
        curve = figure(results, f"{base}.open_loop")
        assert curve, f"no open-loop points for {catalog}"
        for point in curve:
            number(point, "offered_rate", positive=True)
            for endpoint in ("bare", "orders"):
                number(point, f"{endpoint}.rate", positive=True)
                latency(point, endpoint)
                number(point, f"{endpoint}.late")


def test_pipeline_figures(results):
    base = "results.pipeline"
    number(results, f"{base}.sustained_rate")
    steps = figure(results, f"{base}.steps")
    assert steps
    for step in steps:
        number(step, "rate", positive=True)
        number(step, "accept.rate", positive=True)
        assert isinstance(step["sustained"], bool)
        assert step["sustained"] or step["why_not"], "an unsustained step says why"
    latency(results, f"{base}.half_rate.end_to_end")
    assert figure(results, f"{base}.audit.ok") is True
    number(results, f"{base}.audit.orders", positive=True)
    assert figure(results, f"{base}.samples")


def test_growth_figures(results):
    base = "results.growth"
    for lines in ("1", "10", "100"):
        number(results, f"{base}.lines.{lines}.rate", positive=True)
        latency(results, f"{base}.lines.{lines}")
    for tables in ("empty", "full"):
        number(results, f"{base}.{tables}.accept.rate", positive=True)
        latency(results, f"{base}.{tables}.pipeline.end_to_end")
    assert number(results, f"{base}.full.orders_in_table") >= 2000
    assert number(results, f"{base}.bulk_load.orders") >= 2000
    assert figure(results, f"{base}.query_counts.measured") is True
    number(results, f"{base}.query_counts.counts.admin front page.queries", positive=True)
    number(results, f"{base}.query_counts.counts.admin front page.ms")


def test_workers_figures(results):
    base = "results.workers"
    number(results, f"{base}.one_process.handler_runs_per_second", positive=True)
    number(results, f"{base}.one_process.orders_per_second", positive=True)
    assert figure(results, f"{base}.one_process.orders_processed") == figure(results, f"{base}.one_process.orders")
    for concurrency in ("1", "2"):
        number(results, f"{base}.scaling.{concurrency}.sustained_rate")
        assert figure(results, f"{base}.scaling.{concurrency}.steps")


def test_targets_are_judged(results):
    targets = figure(results, "targets")
    assert len(targets) == 5
    assert {t["verdict"] for t in targets} <= {"met", "MISSED", "not measured"}
