"""The relay as a command: ``manage.py events relay`` and ``manage.py relay_events``.

Once: one ``events.services.relay()`` pass (dispatch, then re-send overdue runs) and
its report. With ``--loop``, the dispatcher process: it dispatches as soon as events
are recorded (woken by PostgreSQL's NOTIFY; on SQLite it polls every
``EVENTS_DISPATCH_POLL`` seconds), goes on while full batches keep coming, and runs a
whole relay pass every ``--interval`` seconds, which also catches anything a missed
wake-up left behind. SIGTERM or SIGINT end the loop after the pass in progress
(nothing is cut off half-way) and exit 0.
"""

import logging
import signal
import threading
import time
from argparse import ArgumentParser
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from events import services, wakeup

logger = logging.getLogger("events.relay")


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--loop", action="store_true", help="Keep relaying until SIGTERM or SIGINT.")
    parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="Seconds between two whole relay passes with --loop (default: 5); events are dispatched "
        "as soon as they are recorded in between.",
    )


def describe(report: services.RelayReport) -> str:
    text = f"relay: dispatched {report.dispatched} event(s), re-sent {report.resent} run(s)"
    if report.gave_up:
        text += f", gave up on {report.gave_up} run(s) never taken by a worker (now failed)"
    if report.failed:
        text += f", {report.failed} failed (see the log)"
    return text


def run(command: BaseCommand, *, loop: bool, interval: float, verbosity: int = 1) -> None:
    if interval <= 0:
        raise CommandError("--interval must be a positive number of seconds")
    if not loop:
        command.stdout.write(describe(services.relay()))
        return
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    waker = wakeup.waker(stop)
    how = "woken by NOTIFY" if waker.listens else f"polling every {settings.EVENTS_DISPATCH_POLL:g}s"
    command.stdout.write(f"relay: every {interval:g}s until SIGTERM or SIGINT; dispatching as events come ({how})")
    passes = failed = dispatched = 0
    next_pass = 0.0
    gather = 0.0
    try:
        while not stop.is_set():
            more = False
            try:
                if time.monotonic() >= next_pass:
                    # A long-lived process: drop connections the database closed meanwhile.
                    close_old_connections()
                    passes += 1
                    report = services.relay()
                    next_pass = time.monotonic() + interval
                    if report.dispatched or report.resent or report.failed or report.gave_up or verbosity >= 2:
                        command.stdout.write(describe(report))
                    more = report.dispatched >= settings.EVENTS_DISPATCH_BATCH
                else:
                    batch = services.dispatch_pending()
                    dispatched += batch.dispatched
                    more = batch.claimed >= settings.EVENTS_DISPATCH_BATCH and not batch.failed
                    # Under load (a pass found several events) the next wake-up waits a
                    # few ms for the commits that follow, so that a pass, which costs
                    # the same for one event or many, serves them all; at a trickle
                    # each event goes at once.
                    gather = settings.EVENTS_DISPATCH_GATHER if batch.claimed > 1 else 0.0
            except Exception:
                # The database is down, say: keep going, the next pass tries again.
                failed += 1
                logger.exception("relay pass failed")
                close_old_connections()
                stop.wait(min(interval, 1.0))
            if not more:
                timeout = max(0.0, next_pass - time.monotonic())
                if not waker.listens:
                    timeout = min(timeout, settings.EVENTS_DISPATCH_POLL)
                waker.wait(timeout, gather=gather)
    finally:
        waker.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        close_old_connections()
    command.stdout.write(
        f"relay: stopped after {passes} pass(es), {dispatched} event(s) dispatched between them"
        + (f", {failed} failed" if failed else "")
    )
