"""Dispatch: recorded events out to their handlers, a batch at a time.

The request that records an event pays for one INSERT and is answered; dispatching is
the dispatcher's (the relay process, woken by the commit: ``events.wakeup``). A pass,
``dispatch_pending``, takes up to ``EVENTS_DISPATCH_BATCH`` undispatched events, oldest
first, passing over any another dispatcher holds, in three steps:

1. One transaction: each event's signal is sent, and every receiver answers with the
   handler task it wants run (``events.subscriptions``); the handler runs that do not
   exist yet are written in one INSERT, and the events are claimed
   (``next_dispatch_at``, ``EVENTS_DISPATCH_LEASE`` seconds ahead) so that another
   dispatcher leaves them alone. Commit.
2. Every task is published, over one broker connection (with publisher confirms on
   RabbitMQ: a publish returns once the broker has the message). No database lock is
   held meanwhile.
3. The events whose tasks all went out are marked dispatched, in one UPDATE.

Guarantees:

* an event is marked dispatched only once the broker took every one of its tasks;
* a crash between the steps leaves its events undispatched, claimed; when the claim
  runs out they are dispatched again. Publishing twice is harmless: a handler run is
  applied once, whatever number of copies of its task arrive;
* with the broker out of reach, the pass stops at the first refused publish; the
  events it did not send are released at once (the next pass tries them again), each
  with the error on it (the admin's "not dispatched, with an error");
* an event whose fan-out fails for a reason of its own (its type is no longer
  declared, a receiver raises) waits longer after each failure and stays
  undispatched and visible: it is never dropped, and never holds up the others.
"""

import logging
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from project.faults import crash_point
from project.logcontext import log_context, order_id_of

from .. import selectors
from ..handlers import backoff
from ..models import Event, HandlerRun
from .sending import BROKER_ERRORS, publish, reopen

logger = logging.getLogger("events.dispatch")


@dataclass
class DispatchReport:
    dispatched: int = 0  # events marked dispatched
    sent: int = 0  # tasks published
    failed: int = 0  # events not dispatched: the broker refused, or their fan-out failed
    claimed: int = 0  # events this pass took (a full batch means more may be waiting)


@dataclass
class _Claim:
    event_id: int
    stream: str
    tasks: list = field(default_factory=list)  # the handler tasks to publish


def dispatch_pending(*, limit: int | None = None) -> DispatchReport:
    """One pass over the undispatched events that are due (not claimed by another
    dispatcher, not backing off after a failure of their own), oldest first."""
    limit = limit or settings.EVENTS_DISPATCH_BATCH
    return _dispatch(selectors.due_for_dispatch(timezone.now()), limit=limit)


def dispatch_events(event_ids: list[int]) -> DispatchReport:
    """Dispatch these events now if they are not yet dispatched (staff asked: a
    backoff or a claim is not waited out)."""
    if not event_ids:
        return DispatchReport()
    events = Event.objects.filter(pk__in=event_ids, dispatched_at=None).order_by("id")
    return _dispatch(events, limit=len(event_ids))


def _dispatch(events: QuerySet[Event], *, limit: int) -> DispatchReport:
    report = DispatchReport()
    claims = _claim(events, limit=limit, report=report)
    if not claims:
        return report
    # Fault tests: die with the runs written and the events claimed, nothing published.
    crash_point("events.before_publish")
    sent, unsent, error = _publish(claims, report)
    # Fault tests: die with the tasks published and the events not marked.
    crash_point("events.before_mark")
    now = timezone.now()
    if sent:
        report.dispatched = Event.objects.filter(pk__in=sent).update(
            dispatched_at=now, next_dispatch_at=None, last_dispatch_error=""
        )
    if unsent:
        # The broker's fault, not the events': they are due again at once.
        Event.objects.filter(pk__in=unsent).update(next_dispatch_at=None, last_dispatch_error=error)
        report.failed += len(unsent)
        logger.warning("dispatch: %s event(s) left for the next pass: %s", len(unsent), error)
    if sent and logger.isEnabledFor(logging.INFO):
        # One line per event, naming it and its order, so one order can be followed
        # through every process's log.
        tasks = {claim.event_id: claim for claim in claims}
        for event_id in sent:
            claim = tasks[event_id]
            with log_context(event_id=event_id, order_id=order_id_of(claim.stream)):
                logger.info("event=%s dispatched to %s handler(s)", event_id, len(claim.tasks))
    return report


def _claim(events: QuerySet[Event], *, limit: int, report: DispatchReport) -> list[_Claim]:
    """Step 1: fan the events out, write their runs, claim them; one transaction."""
    now = timezone.now()
    with transaction.atomic():
        batch = list(events.select_for_update(skip_locked=True)[:limit])
        report.claimed = len(batch)
        fanned_out: list[tuple[Event, list]] = []
        for event in batch:
            try:
                fanned_out.append((event, _handlers_of(event)))
            except Exception as exc:
                _fan_out_failed(event, exc)
                report.failed += 1
        claims = _open_runs(fanned_out, now=now)
        Event.objects.filter(pk__in=[claim.event_id for claim in claims]).update(
            dispatch_attempts=F("dispatch_attempts") + 1,
            next_dispatch_at=now + timezone.timedelta(seconds=settings.EVENTS_DISPATCH_LEASE),
        )
    return claims


def _handlers_of(event: Event) -> list:
    """The handler tasks the event's receivers answer with (``Signal.send`` returns
    each receiver's answer); a receiver that wants nothing run answers None."""
    return [task for _, task in event.event_type.send(sender=Event, event=event) if task is not None]


def _open_runs(fanned_out: list[tuple[Event, list]], *, now) -> list[_Claim]:
    """Write the handler runs of a batch and say what to publish.

    An event never claimed before has no runs yet (the usual case): its runs are
    created in the batch's one INSERT. One that was (its dispatcher died, or the
    broker refused) may have some: an open one is sent again, one that is done, failed
    or skipped is not. ``ignore_conflicts`` leaves alone a run a worker made itself
    meanwhile (a task sent by other means)."""
    retried = [event.pk for event, _ in fanned_out if event.dispatch_attempts]
    existing = {}
    if retried:
        existing = {(r.event_id, r.handler): r for r in HandlerRun.objects.filter(event_id__in=retried)}
    new_runs, claims = [], []
    for event, tasks in fanned_out:
        claim = _Claim(event_id=event.pk, stream=event.stream)
        for task in tasks:
            run = existing.get((event.pk, task.name))
            if run is None:
                new_runs.append(
                    HandlerRun(event_id=event.pk, handler=task.name, deadline=now + task.spec.lease, enqueued=1)
                )
            elif run.status in HandlerRun.OPEN:
                reopen(run, task.spec)
            else:
                continue
            claim.tasks.append(task)
        claims.append(claim)
    HandlerRun.objects.bulk_create(new_runs, ignore_conflicts=True)
    return claims


def _publish(claims: list[_Claim], report: DispatchReport) -> tuple[list[int], list[int], str]:
    """Step 2: publish every claim's tasks over one connection. Returns the events
    whose tasks all went out, those not (all after the first refused publish: with
    the broker away each would wait out its timeout in turn), and the error."""
    sent: list[int] = []
    try:
        with current_app.producer_or_acquire() as producer:
            for claim in claims:
                with log_context(event_id=claim.event_id, order_id=order_id_of(claim.stream)):
                    for task in claim.tasks:
                        publish(task, claim.event_id, producer=producer)
                        report.sent += 1
                sent.append(claim.event_id)
    except BROKER_ERRORS as exc:
        unsent = [claim.event_id for claim in claims if claim.event_id not in set(sent)]
        return sent, unsent, f"{type(exc).__name__}: {exc}"[:2000]
    return sent, [], ""


def _fan_out_failed(event: Event, exc: Exception) -> None:
    """An event that cannot be fanned out for a reason of its own would fail again at
    once: it waits longer after each failure (``next_dispatch_at``), so it neither
    floods the log nor goes away, and its error is kept for the admin."""
    attempts = event.dispatch_attempts + 1
    delay = backoff(attempts)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    Event.objects.filter(pk=event.pk).update(
        dispatch_attempts=attempts,
        last_dispatch_error=error,
        next_dispatch_at=timezone.now() + timezone.timedelta(seconds=delay),
    )
    with log_context(event_id=event.pk, order_id=order_id_of(event.stream)):
        logger.error(
            "event=%s could not be dispatched (%s attempts, next in %.0fs): %s; it stays undispatched",
            event.pk,
            attempts,
            delay,
            error,
            exc_info=exc,
        )
