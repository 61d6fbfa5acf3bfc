"""``manage.py events``: look at and operate the event machinery.

events catalog [--format asyncapi] [--output FILE]
                                     every event type, its payload and who reacts to it
                                     (as text, or the AsyncAPI 3.0 document)
events schemas [--record]            check that no payload changed under its version
                                     (events/schemas.lock.json); --record adds new versions
events relay [--loop] [--interval 5] dispatch what was left behind (as ``relay_events``)
events retry --failed [--handler X] [--since 2h] [--dry-run]
                                     give failed (dead-lettered) handler runs a new start
events skip --failed --reason TEXT [--handler X] [--since 2h] [--dry-run]
                                     give them up for good (status ``skipped``)
events prune [--older-than 30d] [--dry-run]
                                     delete old, completely handled events and their runs
"""

import argparse
import getpass
import json
import typing
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events import asyncapi, schema_lock, selectors, services, types
from events.management import relay
from events.subscriptions import subscriptions_of
from project.durations import duration_argument, parse_since


def _fields(event_type) -> str:
    """The payload's fields and their types, e.g. ``order_id: int, total: Decimal``."""
    described = []
    for name, field in event_type.payload.model_fields.items():
        private = " (private)" if name in event_type.private else ""
        described.append(f"{name}: {_type_name(field.annotation)}{private}")
    return ", ".join(described)


def _type_name(annotation) -> str:
    """``tuple[PlacedLine, ...]``, ``Decimal``, ``int``: as it is written in the payload."""
    if annotation is Ellipsis:
        return "..."
    origin = typing.get_origin(annotation)
    if origin is None:
        return getattr(annotation, "__name__", str(annotation))
    return f"{origin.__name__}[{', '.join(_type_name(arg) for arg in typing.get_args(annotation))}]"


def known_handlers() -> list[str]:
    return sorted({s.handler for event_type in types.all_types() for s in subscriptions_of(event_type)})


class Command(BaseCommand):
    help = "The event machinery: `catalog` of event types and handlers, `relay`, `retry --failed`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{catalog,schemas,relay,retry,skip,prune}")
        catalog = sub.add_parser("catalog", help="Print every event type, its payload fields and its handlers.")
        catalog.add_argument(
            "--format",
            choices=["text", "asyncapi"],
            default="text",
            help="text (default), or the AsyncAPI 3.0 document (JSON).",
        )
        catalog.add_argument("--output", metavar="FILE", help="Write to FILE instead of standard output.")
        schemas = sub.add_parser(
            "schemas", help="Check that no event payload changed without a version bump (events/schemas.lock.json)."
        )
        schemas.add_argument("--record", action="store_true", help="Record the current versions not recorded yet.")
        relay_parser = sub.add_parser(
            "relay", help="Dispatch events left undispatched; re-send runs past their deadline."
        )
        relay.add_arguments(relay_parser)
        retry = sub.add_parser("retry", help="Retry handler runs that used up their attempts.")
        skip = sub.add_parser("skip", help="Give failed handler runs up for good (status skipped).")
        prune = sub.add_parser(
            "prune", help="Delete dispatched events past the retention window whose runs are all done or skipped."
        )
        for subparser in (catalog, schemas, relay_parser, retry, skip, prune):
            self._accept_common_options(subparser)
        for subparser, verb in ((retry, "Retry"), (skip, "Skip")):
            subparser.add_argument(
                "--failed", action="store_true", required=True, help=f"{verb} failed runs (required)."
            )
            subparser.add_argument(
                "--handler",
                action="append",
                metavar="NAME",
                help="Only runs of this handler, e.g. payments.charge_order (repeat for several).",
            )
            subparser.add_argument(
                "--since",
                type=parse_since,
                metavar="WHEN",
                help="Only runs that failed since then: a duration (2h, 30m, 1d) or an ISO date/datetime.",
            )
            subparser.add_argument("--dry-run", action="store_true", help="List the runs, change nothing.")
        skip.add_argument("--reason", required=True, help="Why they are given up; kept on each run.")
        prune.add_argument(
            "--older-than",
            type=duration_argument,
            metavar="AGE",
            help="Retention window, e.g. 30d (default: EVENTS_RETENTION_DAYS).",
        )
        prune.add_argument("--dry-run", action="store_true", help="Count what would go, delete nothing.")

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
            if options["format"] == "asyncapi":
                self.asyncapi(options["output"])
            else:
                self.catalog()
        elif action == "schemas":
            self.schemas(record=options["record"])
        elif action == "relay":
            relay.run(self, loop=options["loop"], interval=options["interval"], verbosity=options["verbosity"])
        elif action == "retry":
            self.retry(handlers=options["handler"], since=options["since"], dry_run=options["dry_run"])
        elif action == "skip":
            self.skip(
                handlers=options["handler"],
                since=options["since"],
                dry_run=options["dry_run"],
                reason=options["reason"],
            )
        elif action == "prune":
            self.prune(older_than=options["older_than"], dry_run=options["dry_run"])

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
            self.stdout.write(f"  payload: {event_type.payload.__name__} v{event_type.version}: {_fields(event_type)}")
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

    def asyncapi(self, output: str | None) -> None:
        text = json.dumps(asyncapi.document(), indent=2) + "\n"
        if output:
            with open(output, "w") as f:
                f.write(text)
            self.stdout.write(f"wrote the AsyncAPI {asyncapi.ASYNCAPI_VERSION} catalog to {output}")
        else:
            self.stdout.write(text, ending="")

    def schemas(self, *, record: bool) -> None:
        if record:
            for added in schema_lock.record():
                self.stdout.write(f"recorded {added}")
        problems = schema_lock.problems()
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write(f"{len(types.all_types())} event types: every payload schema matches its recorded version")

    # --- retry --------------------------------------------------------------------------

    def _failed_runs(self, handlers: list[str] | None, since: datetime | None):
        if handlers:
            unknown = sorted(set(handlers) - set(known_handlers()))
            if unknown:
                raise CommandError(f"unknown handler(s): {', '.join(unknown)}; known: {', '.join(known_handlers())}")
        return selectors.failed_runs(handlers=handlers, since=since)

    @staticmethod
    def _describe(run) -> str:
        return f"  run #{run.pk} {run.handler} on event #{run.event_id} {run.event.type} ({run.event.stream})"

    def retry(self, *, handlers: list[str] | None, since: datetime | None, dry_run: bool) -> None:
        retried = 0
        for run in self._failed_runs(handlers, since):
            line = self._describe(run)
            if dry_run:
                self.stdout.write(f"{line}: {run.last_error[:100]}")
                retried += 1
                continue
            # A reopened run is due at once: if the broker refuses it now, the relay sends it.
            if services.retry_failed(run.pk):
                retried += 1
                self.stdout.write(line)
        if dry_run:
            self.stdout.write(f"would retry {retried} failed run(s)")
            return
        self.stdout.write(f"retried {retried} failed run(s)")

    def skip(self, *, handlers: list[str] | None, since: datetime | None, dry_run: bool, reason: str) -> None:
        if not reason.strip():
            raise CommandError("--reason must say why the runs are given up")
        who = f"{getpass.getuser()} (manage.py events skip)"
        skipped = 0
        for run in self._failed_runs(handlers, since):
            line = self._describe(run)
            if dry_run:
                self.stdout.write(f"{line}: {run.last_error[:100]}")
                skipped += 1
            elif services.skip_failed(run.pk, by=who, reason=reason.strip()):
                skipped += 1
                self.stdout.write(line)
        self.stdout.write(f"would skip {skipped} failed run(s)" if dry_run else f"skipped {skipped} failed run(s)")

    # --- prune --------------------------------------------------------------------------

    def prune(self, *, older_than: timedelta | None, dry_run: bool) -> None:
        window = older_than or timedelta(days=settings.EVENTS_RETENTION_DAYS)
        if dry_run:
            count = services.prunable_events(older_than=window).count()
            self.stdout.write(f"would delete {count} event(s) older than {window} with their handler runs")
            return
        report = services.prune(older_than=window)
        self.stdout.write(f"deleted {report.events} event(s) older than {window} and {report.runs} handler run(s)")
