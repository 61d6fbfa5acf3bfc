"""The relay as a command: ``manage.py events relay`` and ``manage.py relay_events``.

Once: one ``events.services.relay()`` pass and its report. With ``--loop``: a pass
every ``--interval`` seconds until SIGTERM or SIGINT, which end the loop after the
pass in progress (nothing is cut off half-way) and exit 0.
"""

import logging
import signal
import threading

from django.core.management.base import CommandError
from django.db import close_old_connections

from events import services

logger = logging.getLogger("events.relay")


def add_arguments(parser) -> None:
    parser.add_argument("--loop", action="store_true", help="Keep relaying until SIGTERM or SIGINT.")
    parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="Seconds between two passes with --loop (default: 5).",
    )


def describe(report: services.RelayReport) -> str:
    text = f"relay: dispatched {report.dispatched} event(s), re-sent {report.resent} run(s)"
    if report.gave_up:
        text += f", gave up on {report.gave_up} run(s) never taken by a worker (now failed)"
    if report.failed:
        text += f", {report.failed} failed (see the log)"
    return text


def run(command, *, loop: bool, interval: float, verbosity: int = 1) -> None:
    if interval <= 0:
        raise CommandError("--interval must be a positive number of seconds")
    if not loop:
        command.stdout.write(describe(services.relay()))
        return
    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    command.stdout.write(f"relay: every {interval:g}s until SIGTERM or SIGINT")
    passes = failed = 0
    try:
        while not stop.is_set():
            # A long-lived process: drop connections the database closed meanwhile.
            close_old_connections()
            passes += 1
            try:
                report = services.relay()
            except Exception:
                # The database is down, say: keep going, the next pass tries again.
                failed += 1
                logger.exception("relay pass failed")
            else:
                if report.dispatched or report.resent or report.failed or report.gave_up or verbosity >= 2:
                    command.stdout.write(describe(report))
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        close_old_connections()
    command.stdout.write(f"relay: stopped after {passes} pass(es)" + (f", {failed} failed" if failed else ""))
