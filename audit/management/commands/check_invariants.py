from django.core.management.base import BaseCommand

from audit.invariants import INVARIANTS, check_invariants
from project.durations import parse_since


class Command(BaseCommand):
    help = (
        "Check the shop's invariants (stock conservation, what paid and cancelled orders must have, no handler "
        "run overdue, no event undispatched). Prints one line per offender and a summary; exits 1 if any."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=parse_since,
            help="Only orders changed since then: a duration like 2h or an ISO date/datetime (stock, overdue runs "
            "and undispatched events: always all).",
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
