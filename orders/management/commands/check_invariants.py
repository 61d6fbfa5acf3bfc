import argparse
import re
from datetime import UTC, timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from orders.invariants import INVARIANTS, check_invariants

DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str):
    """An ISO datetime (UTC if it names no zone) or a duration back from now: 90s, 30m, 2h, 7d."""
    if match := DURATION.fullmatch(value.strip()):
        return timezone.now() - timedelta(**{UNITS[match[2]]: float(match[1])})
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise argparse.ArgumentTypeError(f"{value!r} is neither an ISO datetime nor a duration like 2h")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


class Command(BaseCommand):
    help = (
        "Check the shop's invariants (stock conservation, what paid and cancelled orders must have, no handler "
        "run overdue, no event undispatched). Prints one line per offender and a summary; exits 1 if any."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=parse_since,
            help="Only orders, runs and events since then: an ISO datetime or a duration like 2h (stock: always all).",
        )

    def handle(self, *args, since, **options):
        findings = check_invariants(since=since)
        for finding in findings:
            self.stdout.write(str(finding))
        scope = f"since {since.isoformat()}" if since else "over everything"
        if findings:
            broken = len({f.invariant for f in findings})
            self.stdout.write(
                f"FAIL: {len(findings)} findings against {broken} of {len(INVARIANTS)} invariants, {scope}"
            )
            raise SystemExit(1)
        self.stdout.write(f"OK: all {len(INVARIANTS)} invariants hold, {scope}")
