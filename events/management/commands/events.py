"""``manage.py events``: look at and operate the event machinery.

events catalog                       every event type, its payload and who reacts to it
events relay [--loop] [--interval 5] dispatch what was left behind (as ``relay_events``)
events retry --failed [--handler X] [--since 2h] [--dry-run]
                                     give failed (dead-lettered) handler runs a new start
"""

import argparse
import re
from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from events import selectors, services, types
from events.management import relay
from events.subscriptions import subscriptions_of

DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
DURATION = re.compile(r"^(?:\d+[wdhms])+$")


def parse_since(value: str) -> datetime:
    """``2h``, ``1h30m``, ``3d`` (that long ago), or an ISO date or datetime (naive
    ones are in the project's time zone)."""
    value = value.strip()
    if DURATION.match(value):
        delta = timedelta(**{DURATION_UNITS[u]: int(n) for n, u in re.findall(r"(\d+)([wdhms])", value)})
        return timezone.now() - delta
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise argparse.ArgumentTypeError(f"{value!r}: give a duration like 2h, 30m, 1d, or an ISO date/datetime")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def known_handlers() -> list[str]:
    return sorted({s.handler for event_type in types.all_types() for s in subscriptions_of(event_type)})


class Command(BaseCommand):
    help = "The event machinery: `catalog` of event types and handlers, `relay`, `retry --failed`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{catalog,relay,retry}")
        catalog = sub.add_parser("catalog", help="Print every event type, its payload fields and its handlers.")
        relay_parser = sub.add_parser(
            "relay", help="Dispatch events left undispatched; re-send runs past their deadline."
        )
        relay.add_arguments(relay_parser)
        retry = sub.add_parser("retry", help="Retry handler runs that used up their attempts.")
        for subparser in (catalog, relay_parser, retry):
            self._accept_common_options(subparser)
        retry.add_argument("--failed", action="store_true", required=True, help="Retry failed runs (required).")
        retry.add_argument(
            "--handler",
            action="append",
            metavar="NAME",
            help="Only runs of this handler, e.g. payments.charge_order (repeat for several).",
        )
        retry.add_argument(
            "--since",
            type=parse_since,
            metavar="WHEN",
            help="Only runs that failed since then: a duration (2h, 30m, 1d) or an ISO date/datetime.",
        )
        retry.add_argument("--dry-run", action="store_true", help="List the runs, change nothing.")

    @staticmethod
    def _accept_common_options(subparser) -> None:
        """Let ``events relay --loop -v 2`` work as well as ``events -v 2 relay --loop``.

        Defaults are suppressed, so an option not given after the action keeps the
        value the command's own parser gave it."""
        subparser.add_argument(
            "-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=argparse.SUPPRESS, help="Verbosity level."
        )
        subparser.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        subparser.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        subparser.add_argument("--force-color", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def handle(self, *args, action, **options):
        if action == "catalog":
            self.catalog()
        elif action == "relay":
            relay.run(self, loop=options["loop"], interval=options["interval"], verbosity=options["verbosity"])
        elif action == "retry":
            self.retry(handlers=options["handler"], since=options["since"], dry_run=options["dry_run"])

    # --- catalog ------------------------------------------------------------------------

    def catalog(self) -> None:
        event_types = types.all_types()
        handlers = known_handlers()
        self.stdout.write(f"{len(event_types)} event types, {len(handlers)} handlers")
        self.stdout.write("")
        for event_type in event_types:
            self.stdout.write(self.style.MIGRATE_HEADING(event_type.name))
            if event_type.doc:
                self.stdout.write(f"  {event_type.doc}")
            self.stdout.write(f"  stream:  {event_type.stream}:<{event_type.stream}_id>")
            self.stdout.write(f"  payload: {', '.join(event_type.fields)}")
            subscriptions = subscriptions_of(event_type)
            if not subscriptions:
                self.stdout.write("  handlers: none")
            else:
                self.stdout.write("  handlers:")
                for s in subscriptions:
                    spec = s.task.spec
                    self.stdout.write(
                        f"    {s.handler:<36} task {s.task.name}, queue {spec.queue}, "
                        f"max attempts {spec.max_attempts}, timeout {spec.timeout:g}s"
                    )
                    summary = (s.task.__doc__ or "").strip().splitlines()
                    if summary:
                        self.stdout.write(f"      {summary[0]}")
            self.stdout.write("")

    # --- retry --------------------------------------------------------------------------

    def retry(self, *, handlers: list[str] | None, since: datetime | None, dry_run: bool) -> None:
        if handlers:
            unknown = sorted(set(handlers) - set(known_handlers()))
            if unknown:
                raise CommandError(f"unknown handler(s): {', '.join(unknown)}; known: {', '.join(known_handlers())}")
        retried = 0
        for run in selectors.failed_runs(handlers=handlers, since=since):
            line = f"  run #{run.pk} {run.handler} on event #{run.event_id} {run.event.type} ({run.event.stream})"
            if dry_run:
                self.stdout.write(f"{line}: {run.last_error[:100]}")
                retried += 1
                continue
            # A reopened run is due at once: if the broker refuses it now, the relay sends it.
            retried += services.retry_failed(run.pk)
            self.stdout.write(line)
        if dry_run:
            self.stdout.write(f"would retry {retried} failed run(s)")
            return
        self.stdout.write(f"retried {retried} failed run(s)")
