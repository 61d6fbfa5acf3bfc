#!/usr/bin/env python
"""Benchmark Orderflow in its production shape, on this machine, in one run.

    .venv/bin/python bench/run.py [--broker rabbitmq|redis] [--smoke]
                                  [--sections accept,pipeline,growth,workers] [--out bench/results]

Starts gunicorn (4 sync workers), a Celery worker, the relay, beat and an SMTP sink
on a PostgreSQL database, a broker vhost (or Redis db) and a var dir of the run's own,
seeds a catalog and customers, runs the sections and prints one table. It writes
``<out>/results.json``, ``<out>/latency.png``, ``<out>/backlog.png`` and refreshes
``bench/RESULTS.md`` (a smoke run writes its RESULTS.md to ``<out>`` instead, a
temporary directory unless given). See bench/README.md for what each figure means.

Exit status: 0 when every section ran and the pipeline's audit found nothing; 1
otherwise (the report still shows everything that was measured); 130 on Ctrl-C,
after the processes are stopped and what was measured is written.
"""

import argparse
import importlib
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment, report, setup_run
from bench.context import Bench, say
from bench.processes import Stack, StackOptions
from bench.profiles import FULL, SMOKE, Profile
from bench.run_facts import RunFacts
from bench.smtp_sink import MailLog

# Modules of bench.sections, in the order they run; imported once Django is set up
# (they use the models).
SECTIONS = ("accept", "pipeline", "growth", "workers")
RESULTS_MD = environment.ROOT / "bench" / "RESULTS.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--broker",
        choices=("rabbitmq", "redis"),
        default=environment.default_broker(os.environ),
        help="default: the one CELERY_BROKER_URL names, else rabbitmq",
    )
    parser.add_argument("--smoke", action="store_true", help="every section, tiny sizes: for CI, not for figures")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, of: " + ", ".join(SECTIONS))
    parser.add_argument("--out", type=Path, help="where results go (default bench/results; a temp dir with --smoke)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--web",
        choices=("wsgi", "asgi"),
        default="wsgi",
        help="the web application: wsgi (gunicorn sync workers, default) or asgi (uvicorn workers, as the Procfile)",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="the Celery worker's -c (default 2)")
    parser.add_argument(
        "--pipeline-nice",
        type=int,
        default=10,
        help="nice level of the worker, relay and beat, which share the machine with the web server (default 10; "
        "0: the web server's priority)",
    )
    args = parser.parse_args(argv)
    args.sections = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.out is None:
        args.out = (
            Path(tempfile.mkdtemp(prefix="orderflow-bench-smoke-")) if args.smoke else RESULTS_MD.parent / "results"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    run_dir = Path(tempfile.mkdtemp(prefix="orderflow-bench-run-"))
    caller_env = dict(os.environ)
    res = environment.resources(broker=args.broker, smoke=args.smoke, var_dir=run_dir / "var", environ=caller_env)
    env = environment.process_environment(res, caller_env)
    options = StackOptions(
        web_workers=args.web_workers,
        web=args.web,
        worker_concurrency=args.concurrency,
        pipeline_nice=args.pipeline_nice,
    )
    stack = Stack(env=env, run_dir=run_dir, web_port=res.web_port, smtp_port=res.smtp_port, options=options)
    facts = RunFacts.collect(profile=profile, res=res, options=options, caller_env=caller_env, env=env, run_dir=run_dir)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the processes are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    say(f"{profile.name} run; logs and state in {run_dir}")

    results: dict = {}
    interrupted = False
    try:
        bench = start(stack, res, env, profile, facts, results)
        interrupted = run_sections(bench, args.sections)
    finally:
        say("stopping the processes")
        stack.stop()
    failed = report.write_all(facts, results, out=args.out, results_md=None if args.smoke else RESULTS_MD)
    return 130 if interrupted else 1 if failed else 0


def start(
    stack: Stack, res: environment.Resources, env: dict, profile: Profile, facts: RunFacts, results: dict
) -> Bench:
    """Servers ready, schema migrated, processes up and seeded, the web tier warm."""
    say(f"setup: database {res.database_name}, broker {environment.without_password(res.broker_url)}")
    (res.var_dir / "static").mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start without it
    setup_run.prepare_broker(res)
    how = setup_run.prepare_database(res, env, stack.log_dir)
    say(f"setup: database {how}; starting the processes, seeding meanwhile")
    setup_run.setup_django(env)
    setup_run.purge_leftovers()
    stack.start()
    workload = setup_run.seed(env, profile, stack.run_dir)
    say(f"setup: seeded {len(workload.skus) + 1} products, {len(workload.tokens)} customers")
    stack.wait_ready()
    facts.add_servers(res)
    bench = Bench(stack=stack, profile=profile, workload=workload, mail=MailLog(stack.mail_file), results=results)
    bench.warm_up()
    return bench


def run_sections(bench: Bench, names: list[str]) -> bool:
    """Each section in turn, its figures into ``bench.results``. A section that fails
    is recorded with its error and ends the run (the system may be in any state);
    returns whether the run was interrupted."""
    for name in names:
        bench.say(f"section {name}")
        try:
            section = importlib.import_module(f"bench.sections.{name}")
            bench.results[name] = section.run(bench)
        except KeyboardInterrupt:
            bench.results[name] = {"error": "interrupted"}
            return True
        except Exception as exc:
            traceback.print_exc()
            bench.results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            return False
    return False


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
