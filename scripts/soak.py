#!/usr/bin/env python
"""Soak: a few thousand orders over the live stack under random faults, then every
order checked. Not run in CI (minutes, not seconds); run it by hand:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderflow \\
    CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// \\
    .venv/bin/python scripts/soak.py --orders 2000

It migrates and seeds the configured database (stock raised so nothing runs out),
starts the end-to-end tests' stack on it (tests/testkit/stack.py: SMTP sink, broker
proxy, celery worker, gunicorn, relay; logs in ``<var dir>/soak-logs``), and places
``--orders`` orders from ``--clients`` customers at once, one in four with a declined
card, in batches of ``--batch``. Faults, all from tests/faults:

* always on, at random: the web process SIGKILLs itself after an order commits and
  before it answers (``--web-kill-p``), a worker pool process after the gateway
  charged and before the payment is written (``--charge-kill-p``);
* one per batch, drawn at random: the whole worker SIGKILLed mid-batch and restarted
  (``worker_kill``), the relay (the dispatcher) SIGKILLed mid-batch and restarted
  (``relay_kill``: its claimed events are taken over when the claim runs out), the
  broker cut off from the web and the relay for the batch (``broker_outage``), tasks
  of random runs delivered twice more (``duplicate_delivery``), or nothing.

Then it waits for quiescence (at most ``--timeout`` seconds) and prints a table:
orders, faults by kind, paid, cancelled, lost, duplicated (double charges, emails,
points), stuck. Every problem is listed; the exit status is 1 if there is any.
Bounded in count and time; it talks only to 127.0.0.1.
"""

import argparse
import io
import logging
import os
import random
import secrets
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# DEBUG stays off, as in production, which wants a key: one for this run (and its stack).
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("TRUSTED_PROXIES", "none")  # its clients talk to gunicorn directly

import django  # noqa: E402

django.setup()
logging.getLogger("mail.log").setLevel(logging.WARNING)  # the SMTP sink's every command

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from audit.invariants import check_invariants  # noqa: E402
from events.models import HandlerRun  # noqa: E402
from orders.models import Order  # noqa: E402
from project.celery import app  # noqa: E402
from tests.faults.scenario import FAULT_STACK_ENV, Stream, crash_kills, stock_up, tally  # noqa: E402
from tests.testkit.api import Api  # noqa: E402
from tests.testkit.stack import running_stack, settled  # noqa: E402

BATCH_FAULTS = ("worker_kill", "relay_kill", "broker_outage", "duplicate_delivery", "none")


def send_again(run: HandlerRun) -> None:
    """Publish a run's task straight to the broker, as a redelivery would."""
    app.send_task(run.handler, args=[run.event_id], task_id=run.task_id, queue=app.tasks[run.handler].spec.queue)


def place_batch(streams: list[Stream], count: int) -> None:
    """``count`` orders, shared out among the streams, each in a thread of its own."""
    share = [count // len(streams) + (i < count % len(streams)) for i in range(len(streams))]
    errors: list[BaseException] = []

    def place(stream: Stream, n: int) -> None:
        try:
            stream.place(n)
        except BaseException as exc:  # an answer other than 201: reported, not hidden
            errors.append(exc)

    threads = [threading.Thread(target=place, args=(s, n)) for s, n in zip(streams, share, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"soak: the API refused an order: {errors[0]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100, help="orders between two drawn faults")
    parser.add_argument("--web-kill-p", type=float, default=0.01)
    parser.add_argument("--charge-kill-p", type=float, default=0.03)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for quiescence at the end")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())
    stock_up(10**9)
    started = time.monotonic()
    since = timezone.now()
    env = {
        **FAULT_STACK_ENV,
        "ORDERFLOW_CRASH_POINTS": ",".join(
            (f"events.after_commit:p={args.web_kill_p}", f"payments.after_charge:p={args.charge_kill_p}")
        ),
    }
    faults: Counter[str] = Counter()
    with running_stack(Path(settings.VAR_DIR) / "soak-logs", extra_env=env) as stack:
        streams = [Stream(Api(stack).sign_up()) for _ in range(args.clients)]
        placed = 0
        while placed < args.orders:
            count = min(args.batch, args.orders - placed)
            fault = rng.choice(BATCH_FAULTS if stack.proxy else [f for f in BATCH_FAULTS if f != "broker_outage"])
            if fault == "broker_outage":
                stack.proxy.off()
                place_batch(streams, count)
                time.sleep(rng.uniform(0, 3))  # the relay fails a few passes more
                stack.proxy.on()
            elif fault in ("worker_kill", "relay_kill"):
                place_batch(streams, count // 2)
                stack.restart(fault.removesuffix("_kill"), kill=True)
                place_batch(streams, count - count // 2)
            elif fault == "duplicate_delivery":
                place_batch(streams, count)
                runs = list(HandlerRun.objects.order_by("-id")[: 4 * count])
                for run in rng.sample(runs, min(len(runs), count // 2)):
                    send_again(run)
                    send_again(run)
                    faults["duplicate_delivery (runs sent twice more)"] += 1
            else:
                place_batch(streams, count)
            if fault not in ("none", "duplicate_delivery"):
                faults[fault] += 1
            placed += count
            print(f"soak: {placed}/{args.orders} placed, last fault: {fault}", flush=True)

        ids = sorted(i for s in streams for i in s.committed())
        if stack.proxy:
            stack.proxy.on()
        final = (Order.Status.PAID, Order.Status.CANCELLED)

        def quiet() -> bool:
            return settled() and not Order.objects.filter(pk__in=ids).exclude(status__in=final).exists()

        try:
            stack.wait_for(quiet, "quiescence", timeout=args.timeout, interval=1.0)
        except AssertionError as exc:
            print(f"soak: not quiet after {args.timeout:.0f}s: {str(exc).splitlines()[0]}")
        faults["web_kill (after commit, before the answer)"] = crash_kills(stack.web.all_logs())
        faults["charge_kill (after charge, before write)"] = crash_kills(stack.worker.all_logs())
        t = tally(ids, stack.smtp)
        accepted = {i for s in streams for i in s.accepted}
        lost = len(accepted - set(ids)) + sum("missing" in p or "order.placed" in p for p in t.problems)
        dropped = sum(s.dropped for s in streams)
        findings = check_invariants(since=since)

    rows = [
        ("orders placed (committed)", t.orders),
        ("  answered 201", len(accepted)),
        ("  connection dropped (web killed)", dropped),
        *((f"fault: {kind}", n) for kind, n in sorted(faults.items())),
        ("paid", t.paid),
        ("cancelled", t.cancelled),
        ("gateway captures / refunds", f"{t.charges} / {t.refunds}"),
        ("emails (distinct) / points entries", f"{t.emails} / {t.points}"),
        ("email copies re-sent (same Message-ID)", t.email_resends),
        ("lost", lost),
        ("duplicated: charges", t.double_charges),
        ("duplicated: emails", t.double_emails),
        ("duplicated: points", t.double_points),
        ("stuck", t.stuck),
        ("invariant checker findings", len(findings)),
        ("seconds", f"{time.monotonic() - started:.0f}"),
        ("seed", seed),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'what':<{width}}  value\n{'-' * width}  -----")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    bad = lost or t.double_charges or t.double_emails or t.double_points or t.stuck or t.problems
    bad = bad or t.paid + t.cancelled != t.orders or findings
    for problem in t.problems:
        print(f"PROBLEM {problem}")
    for finding in findings:
        print(f"FINDING {finding}")
    # Copies of one email (same Message-ID) after a kill between the SMTP server's "250"
    # and the commit are the documented at-least-once of email: reported, not failed.
    print("\nsoak: FAILED" if bad else "\nsoak: all orders accounted for, nothing lost, nothing twice")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
