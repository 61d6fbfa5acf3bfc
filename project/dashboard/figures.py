"""The front page's figures and charts, each from its app's selector."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.safestring import SafeString

from audit import selectors as audit_selectors
from audit.models import InvariantReport
from customers import selectors as customer_selectors
from events import selectors as event_selectors
from orders import selectors as order_selectors
from project.admin_helpers import admin_url

from . import charts, links

HOURS = 24


@dataclass(frozen=True)
class Figure:
    label: str
    value: object
    url: str = ""


@dataclass(frozen=True)
class Period:
    """Orders and points over one window (today, the last 7 days)."""

    name: str
    outcomes: order_selectors.Outcomes
    points: int
    orders_url: str


@dataclass(frozen=True)
class FailedHandler:
    handler: str
    count: int
    url: str


@dataclass(frozen=True)
class Dashboard:
    periods: list[Period]
    pipeline: list[Figure]
    failed: list[FailedHandler]
    invariants: InvariantReport | None
    invariants_url: str
    charts: list[SafeString]


def dashboard(now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    week = midnight - timedelta(days=6)  # today and the six days before it
    today_outcomes, week_outcomes = order_selectors.outcomes_since(midnight, week)
    points_today, points_week = customer_selectors.points_awarded_since(midnight, week)
    report = audit_selectors.last_invariant_report()
    return Dashboard(
        periods=[
            Period("Today", today_outcomes, points_today, links.orders(created_at__gte=midnight.date().isoformat())),
            Period("Last 7 days", week_outcomes, points_week, links.orders(created_at__gte=week.date().isoformat())),
        ],
        pipeline=_pipeline(),
        failed=[
            FailedHandler(handler, count, links.runs(status__exact="failed", handler__exact=handler))
            for handler, count in sorted(event_selectors.failed_runs_by_handler().items())
        ],
        invariants=report,
        invariants_url=admin_url(report) if report else "",
        charts=_charts(now),
    )


def _pipeline() -> list[Figure]:
    backlog = event_selectors.backlog()
    return [
        Figure("Undispatched events", backlog.undispatched, links.events(dispatched="no")),
        Figure("Oldest undispatched event", _age(backlog.oldest_undispatched_age)),
        Figure(
            "Open handler runs",
            event_selectors.open_run_count(),
            links.runs(status__in="pending,running,retrying"),
        ),
        Figure("Oldest open run", _age(backlog.oldest_open_run_age)),
    ]


def _age(seconds: float) -> str:
    if not seconds:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _charts(now: datetime) -> list[SafeString]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [hour - timedelta(hours=HOURS - 1 - n) for n in range(HOURS)]
    labels = [f"{timezone.localtime(h):%H}h" for h in hours]
    per_hour = order_selectors.orders_per_hour(since=hours[0])
    orders_chart = charts.line_chart(
        title="Orders per hour, last 24 h",
        labels=labels,
        series=[
            charts.Series(name, [per_hour[name].get(h, 0) for h in hours]) for name in ("placed", "paid", "cancelled")
        ],
    )
    quantiles = event_selectors.duration_quantiles(since=now - timedelta(hours=HOURS))
    handlers = sorted(quantiles)
    durations_chart = charts.bar_chart(
        title="Handler duration, last 24 h",
        labels=handlers,
        series=[
            charts.Series("p50", [quantiles[h][0.5] * 1000 for h in handlers]),
            charts.Series("p95", [quantiles[h][0.95] * 1000 for h in handlers]),
        ],
        unit=" ms",
    )
    moments = [now - timedelta(hours=HOURS) + timedelta(minutes=30 * n) for n in range(2 * HOURS + 1)]
    waiting = event_selectors.backlog_at(moments)
    backlog_chart = charts.line_chart(
        title="Backlog, last 24 h (every 30 min)",
        labels=[f"{timezone.localtime(m):%H:%M}" for m in moments],
        series=[
            charts.Series("undispatched events", waiting["events"]),
            charts.Series("open handler runs", waiting["runs"]),
        ],
        every=12,
    )
    return [orders_chart, durations_chart, backlog_chart]
