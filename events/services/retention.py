"""Retention: old events that are completely handled are deleted, with their runs."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from .. import selectors
from ..models import Event, HandlerRun, PrunedTally

logger = logging.getLogger("events.retention")


@dataclass
class PruneReport:
    events: int = 0
    runs: int = 0


def prunable_events(*, older_than: timezone.timedelta | None = None):
    """Events old enough to delete and completely handled: dispatched, older than the
    retention window (``EVENTS_RETENTION_DAYS``), and every run of theirs settled
    (done or skipped) before the window too. An undispatched event, one with an open
    run, and one with a failed run (a dead letter waiting for staff) are never among
    them."""
    if older_than is None:
        older_than = timezone.timedelta(days=settings.EVENTS_RETENTION_DAYS)
    cutoff = timezone.now() - older_than
    unsettled = HandlerRun.objects.filter(event=OuterRef("pk")).filter(
        ~Q(status__in=HandlerRun.SETTLED) | Q(finished_at=None) | Q(finished_at__gte=cutoff)
    )
    return Event.objects.filter(dispatched_at__isnull=False, occurred_at__lt=cutoff).exclude(Exists(unsettled))


def _tally_before_deleting(event_ids: list[int]) -> None:
    """Add what is about to be deleted to the counters /metrics reads, in the same
    transaction as the delete, so those counters never go down."""
    sums: dict[tuple[str, str], float] = {}
    events = Event.objects.filter(pk__in=event_ids)
    for event_type, recorded, dispatched in (
        events.values("type").annotate(r=Count("id"), d=Count("dispatched_at")).values_list("type", "r", "d")
    ):
        sums[("events_recorded", event_type)] = recorded
        sums[("events_dispatched", event_type)] = dispatched
    for handler, row in selectors.duration_counts(HandlerRun.objects.filter(event_id__in=event_ids)).items():
        for counter, value in row.items():
            sums[(counter, handler)] = value or 0
    for (counter, label), value in sums.items():
        tally, _ = PrunedTally.objects.select_for_update().get_or_create(counter=counter, label=label)
        PrunedTally.objects.filter(pk=tally.pk).update(value=F("value") + value)


def prune(*, older_than: timezone.timedelta | None = None, batch: int = 500, max_batches: int = 20) -> PruneReport:
    """Delete events past the retention window with their handler runs, in batches.

    Runs go only with their event, never alone: a done run is the record that stops
    a late copy of its task from applying the effect again, and that copy is harmless
    only once the event is gone too. So what is deleted is exactly
    ``prunable_events``: never an undispatched event, an open or failed run, or an
    event that has one. Each batch is one transaction that re-checks the rule on rows
    it locks (``skip_locked``: a relay or handler busy with one is not waited for), so
    a run reopened meanwhile keeps its event. At most ``batch * max_batches`` events a
    call; the periodic task comes back for the rest.
    """
    report = PruneReport()
    for _ in range(max_batches):
        with transaction.atomic():
            ids = list(
                prunable_events(older_than=older_than)
                .select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not ids:
                break
            _tally_before_deleting(ids)
            report.runs += HandlerRun.objects.filter(event_id__in=ids).delete()[0]
            # Counted by model: the delete cascades to rows of other apps (webhook deliveries).
            report.events += Event.objects.filter(pk__in=ids).delete()[1].get(Event._meta.label, 0)
        if len(ids) < batch:
            break
    if report.events:
        logger.info("prune: deleted %s events and %s handler runs", report.events, report.runs)
    return report
