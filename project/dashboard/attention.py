"""What needs a person now, for the banner on every admin page: dead-lettered handler
runs, events undispatched past the recovery objective, an invariant check that found
something. Three indexed queries (the partial indexes of failed runs and undispatched
events, and the latest report), made only when an admin page is drawn for staff."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from audit import selectors as audit_selectors
from events import selectors as event_selectors
from project.admin_helpers import admin_url

from . import links


@dataclass(frozen=True)
class Alert:
    message: str
    url: str


def alerts() -> list[Alert]:
    found = []
    failed = sum(event_selectors.failed_runs_by_handler().values())
    if failed:
        found.append(
            Alert(
                f"{failed} handler run{'s' if failed != 1 else ''} failed and wait for staff",
                links.runs(status__exact="failed"),
            )
        )
    objective = settings.INVARIANTS_UNDISPATCHED_MAX_SECONDS
    stale = event_selectors.undispatched_before(before=timezone.now() - timedelta(seconds=objective)).count()
    if stale:
        found.append(
            Alert(
                f"{stale} event{'s' if stale != 1 else ''} undispatched for over {objective:g} s",
                links.events(dispatched="no"),
            )
        )
    report = audit_selectors.last_invariant_report()
    if report is not None and not report.ok:
        found.append(
            Alert(
                f"The invariant check of {timezone.localtime(report.ran_at):%Y-%m-%d %H:%M} found "
                f"{len(report.findings)} problem{'s' if len(report.findings) != 1 else ''}",
                admin_url(report),
            )
        )
    return found
