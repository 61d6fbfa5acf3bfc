from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from .models import Event, HandlerRun, PrunedTally

# Upper bounds (seconds) of the handler duration histogram's buckets.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def timeline(stream: str | None) -> QuerySet[Event]:
    """Every event of one stream (e.g. ``order:42``), oldest first."""
    if stream is None:
        return Event.objects.none()
    return Event.objects.filter(stream=stream).order_by("occurred_at", "id")


@dataclass(frozen=True)
class TimelineEntry:
    event: Event
    runs: list[HandlerRun]


def timeline_with_runs(stream: str) -> list[TimelineEntry]:
    """The stream's events, oldest first, each with its handler runs (two queries)."""
    runs = defaultdict(list)
    for run in runs_of(stream):
        runs[run.event_id].append(run)
    return [TimelineEntry(event, runs.get(event.pk, [])) for event in timeline(stream)]


def runs_of(stream: str) -> QuerySet[HandlerRun]:
    return HandlerRun.objects.filter(event__stream=stream).select_related("event").order_by("id")


@dataclass(frozen=True)
class Backlog:
    undispatched: int
    oldest_undispatched_age: float
    oldest_open_run_age: float


def backlog() -> Backlog:
    now = timezone.now()
    undispatched = Event.objects.filter(dispatched_at=None)
    oldest_event = undispatched.aggregate(t=Min("occurred_at"))["t"]
    oldest_run = HandlerRun.objects.filter(status__in=HandlerRun.OPEN).aggregate(t=Min("created_at"))["t"]
    return Backlog(
        undispatched=undispatched.count(),
        oldest_undispatched_age=(now - oldest_event).total_seconds() if oldest_event else 0.0,
        oldest_open_run_age=(now - oldest_run).total_seconds() if oldest_run else 0.0,
    )


def runs_by_handler_and_status() -> dict[tuple[str, str], int]:
    rows = HandlerRun.objects.values("handler", "status").annotate(n=Count("id"))
    return {(r["handler"], r["status"]): r["n"] for r in rows}


def failed_runs(*, handlers: list[str] | None = None, since=None) -> QuerySet[HandlerRun]:
    """Dead-lettered runs, oldest first; only these handlers' and only those that
    failed since then, if given."""
    runs = HandlerRun.objects.filter(status=HandlerRun.Status.FAILED).select_related("event").order_by("id")
    if handlers:
        runs = runs.filter(handler__in=handlers)
    if since:
        runs = runs.filter(finished_at__gte=since)
    return runs


def streams_in_flight(streams: Iterable[str]) -> set[str]:
    """Those of ``streams`` with work still under way: an event not yet dispatched,
    or a handler run neither done nor failed."""
    streams = list(streams)
    undispatched = Event.objects.filter(stream__in=streams, dispatched_at=None).values_list("stream", flat=True)
    open_runs = HandlerRun.objects.filter(event__stream__in=streams, status__in=HandlerRun.OPEN).values_list(
        "event__stream", flat=True
    )
    return set(undispatched) | set(open_runs)


def open_runs_overdue(*, before) -> QuerySet[HandlerRun]:
    """Runs not yet done whose deadline passed before ``before``: the relay should
    have sent them again."""
    runs = HandlerRun.objects.filter(status__in=HandlerRun.OPEN, deadline__lt=before)
    return runs.select_related("event").order_by("deadline")


def due_for_dispatch(now) -> QuerySet[Event]:
    """Undispatched events a dispatcher may take now, oldest first: not claimed by
    another dispatcher and not backing off after a failure of their own (both set
    ``next_dispatch_at``). Served by the partial index of undispatched events."""
    return (
        Event.objects.filter(dispatched_at=None)
        .filter(Q(next_dispatch_at=None) | Q(next_dispatch_at__lte=now))
        .order_by("id")
    )


def undispatched_before(*, before) -> QuerySet[Event]:
    """Events recorded before ``before`` and still not dispatched."""
    return Event.objects.filter(dispatched_at=None, occurred_at__lt=before).order_by("id")


def _tallies(*counters: str) -> dict[tuple[str, str], float]:
    rows = PrunedTally.objects.filter(counter__in=counters).values_list("counter", "label", "value")
    return {(counter, label): value for counter, label, value in rows}


def counts_by_type() -> dict[str, tuple[int, int]]:
    """Per event type: how many events were ever recorded and dispatched (the rows
    kept, plus what retention deleted)."""
    pruned = _tallies("events_recorded", "events_dispatched")
    counts = {
        label: (int(pruned.get(("events_recorded", label), 0)), int(pruned.get(("events_dispatched", label), 0)))
        for _, label in pruned
    }
    for row in Event.objects.values("type").annotate(recorded=Count("id"), dispatched=Count("dispatched_at")):
        recorded, dispatched = counts.get(row["type"], (0, 0))
        counts[row["type"]] = (recorded + row["recorded"], dispatched + row["dispatched"])
    return counts


@dataclass(frozen=True)
class DurationHistogram:
    buckets: list[tuple[float, int]]  # (upper bound, runs at most that long): cumulative
    count: int
    total: float


def duration_counts(runs: QuerySet[HandlerRun], bounds: Iterable[float] = DURATION_BUCKETS) -> dict[str, dict]:
    """Per handler, of these runs' successful attempts: how many, their total seconds,
    and how many took at most each bound (``le_<bound>``), counted by the database."""
    done = runs.filter(status=HandlerRun.Status.DONE, last_duration__isnull=False)
    per_bound = {f"duration_le_{bound:g}": Count("id", filter=Q(last_duration__lte=bound)) for bound in bounds}
    rows = done.values("handler").annotate(duration_count=Count("id"), duration_sum=Sum("last_duration"), **per_bound)
    return {row.pop("handler"): row for row in rows}


def done_run_durations(bounds: Iterable[float] = DURATION_BUCKETS) -> dict[str, DurationHistogram]:
    """Per handler, how long the successful attempt of each done run took, in
    cumulative buckets: the runs kept, plus what retention deleted."""
    bounds = sorted(bounds)
    counters = ["duration_count", "duration_sum", *(f"duration_le_{bound:g}" for bound in bounds)]
    totals: dict[str, dict[str, float]] = {}
    for (counter, handler), value in _tallies(*counters).items():
        totals.setdefault(handler, dict.fromkeys(counters, 0))[counter] += value
    for handler, row in duration_counts(HandlerRun.objects.all(), bounds).items():
        for counter in counters:
            totals.setdefault(handler, dict.fromkeys(counters, 0))[counter] += row[counter] or 0
    return {
        handler: DurationHistogram(
            buckets=[(bound, int(row[f"duration_le_{bound:g}"])) for bound in bounds],
            count=int(row["duration_count"]),
            total=row["duration_sum"],
        )
        for handler, row in totals.items()
    }


def failed_runs_by_handler() -> dict[str, int]:
    """Dead letters per handler (the partial index of failed runs: cheap however many
    runs are done)."""
    rows = HandlerRun.objects.filter(status=HandlerRun.Status.FAILED).order_by().values("handler")
    return {row["handler"]: row["n"] for row in rows.annotate(n=Count("id"))}


def duration_quantiles(*, since, quantiles: Iterable[float] = (0.5, 0.95)) -> dict[str, dict[float, float]]:
    """Per handler, quantiles of the successful attempts' durations of the runs of
    events since then, estimated from the same buckets ``/metrics`` exports (as
    Prometheus' ``histogram_quantile`` does: linear within the bucket). One query,
    through the events' ``occurred_at`` index and the runs' (event, handler) one."""
    counts = duration_counts(HandlerRun.objects.filter(event__occurred_at__gte=since))
    bounds = sorted(DURATION_BUCKETS)
    found = {}
    for handler, row in counts.items():
        cumulative = [(bound, row[f"duration_le_{bound:g}"]) for bound in bounds]
        found[handler] = {q: _quantile(q, cumulative, row["duration_count"]) for q in quantiles}
    return found


def _quantile(q: float, cumulative: list[tuple[float, int]], total: int) -> float:
    if not total:
        return 0.0
    rank = q * total
    lower_bound, lower_count = 0.0, 0
    for bound, count in cumulative:
        if count >= rank:
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return cumulative[-1][0]  # beyond the last bucket: its bound, as Prometheus does


def backlog_at(moments: list) -> dict[str, list[int]]:
    """At each moment, of the events that occurred since the first: how many were
    recorded but not yet dispatched, and how many of their handler runs were created
    but not yet finished. Two queries (one per series), each one pass over the window's
    rows, whatever the number of moments. Work older than the window is left out (the
    undispatched and open-run figures show it)."""
    start = moments[0]

    def waiting(queryset, began: str, ended: str) -> list[int]:
        counts = queryset.aggregate(
            **{
                f"at_{n}": Count(
                    "id", filter=Q(**{f"{began}__lte": t}) & (Q(**{ended: None}) | Q(**{f"{ended}__gt": t}))
                )
                for n, t in enumerate(moments)
            }
        )
        return [counts[f"at_{n}"] for n in range(len(moments))]

    return {
        "events": waiting(Event.objects.filter(occurred_at__gte=start), "occurred_at", "dispatched_at"),
        "runs": waiting(HandlerRun.objects.filter(event__occurred_at__gte=start), "created_at", "finished_at"),
    }


def open_run_count() -> int:
    """Handler runs pending, running or retrying (their partial index)."""
    return HandlerRun.objects.filter(status__in=HandlerRun.OPEN).count()
