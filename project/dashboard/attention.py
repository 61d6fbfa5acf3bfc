"""What needs a person now, for the banner on every admin page: dead-lettered handler
runs, events undispatched past the recovery objective, an invariant check that found
something, support questions handed to staff. Four indexed queries (the partial indexes of failed runs and undispatched
events, and the latest report), made only when an admin page is drawn for staff."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from audit import selectors as audit_selectors
from events import selectors as event_selectors
from project.admin_helpers import admin_url
from support import selectors as support_selectors

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
    waiting = support_selectors.waiting_for_staff()
    if waiting:
        found.append(
            Alert(
                f"{waiting} support question{'s' if waiting != 1 else ''} wait{'s' if waiting == 1 else ''} "
                "for staff to answer",
                links.changelist("support.question", status__exact="handed_to_staff"),
            )
        )
    report = audit_selectors.last_invariant_report()
    if report is not None and not report.ok:
        found.append(
            Alert(
                f"The invariant check of {timezone.localtime(report.ran_at):%Y-%m-%d %H:%M} found "
                f"{len(report.findings)} problem{'s' if len(report.findings) != 1 else ''}",
                admin_url(report) or "",
            )
        )
    return found
