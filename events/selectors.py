from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from .models import Event, HandlerRun


def timeline(stream: str | None) -> QuerySet[Event]:
    """Every event of one stream (e.g. ``order:42``), oldest first."""
    if stream is None:
        return Event.objects.none()
    return Event.objects.filter(stream=stream).order_by("occurred_at", "id")


def key_of(event_type, **payload) -> str | None:
    """The key of the stream's first event of this type (e.g. an order's ``order.placed``),
    or None if there is none (never recorded, or pruned)."""
    key = (
        Event.objects.filter(type=event_type.name, stream=event_type.stream_of(payload))
        .order_by("id")
        .values_list("key", flat=True)
        .first()
    )
    return None if key is None else str(key)


def events_of_types(type_names) -> QuerySet[Event]:
    """Events of these types (a subquery for other apps: "has its order been paid?")."""
    return Event.objects.filter(type__in=list(type_names))


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


def undispatched_before(*, before) -> QuerySet[Event]:
    """Events recorded before ``before`` and still not dispatched."""
    return Event.objects.filter(dispatched_at=None, occurred_at__lt=before).order_by("id")


def counts_by_type() -> dict[str, tuple[int, int]]:
    """Per event type: how many events are recorded and how many of them dispatched."""
    rows = Event.objects.values("type").annotate(recorded=Count("id"), dispatched=Count("dispatched_at"))
    return {row["type"]: (row["recorded"], row["dispatched"]) for row in rows}


@dataclass(frozen=True)
class DurationHistogram:
    buckets: list[tuple[float, int]]  # (upper bound, runs at most that long): cumulative
    count: int
    total: float


def done_run_durations(bounds: Iterable[float]) -> dict[str, DurationHistogram]:
    """Per handler, how long the successful attempt of each done run took, counted
    into cumulative buckets by the database (one query, whatever the number of runs)."""
    bounds = sorted(bounds)
    done = HandlerRun.objects.filter(status=HandlerRun.Status.DONE, last_duration__isnull=False)
    per_bound = {f"le_{i}": Count("id", filter=Q(last_duration__lte=bound)) for i, bound in enumerate(bounds)}
    rows = done.values("handler").annotate(n=Count("id"), total=Sum("last_duration"), **per_bound)
    return {
        row["handler"]: DurationHistogram(
            buckets=[(bound, row[f"le_{i}"]) for i, bound in enumerate(bounds)], count=row["n"], total=row["total"]
        )
        for row in rows
    }
