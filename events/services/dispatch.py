"""Dispatch: recorded events out to their handlers, a batch at a time.

The request that records an event pays for one INSERT and is answered; dispatching is
the dispatcher's (the relay process, woken by the commit: ``events.wakeup``). A pass,
``dispatch_pending``, takes up to ``EVENTS_DISPATCH_BATCH`` undispatched events, oldest
first, passing over any another dispatcher holds, in three steps:

1. The events are claimed in one statement (``next_dispatch_at``,
   ``EVENTS_DISPATCH_LEASE`` seconds ahead, so that another dispatcher leaves them
   alone; ``events.claims``); each one's signal is sent, and every receiver answers
   with the handler task it wants run (``events.subscriptions``); the handler runs
   that do not exist yet are written in one INSERT.
2. Every task is published, as one batch over one broker connection (on RabbitMQ its
   publisher confirms are awaited together: the batch is the broker's once they are
   all in). No database lock is held meanwhile.
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
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from project.faults import crash_point
from project.logcontext import log_context, order_id_of

from .. import claims
from ..handlers import HandlerTask, backoff, is_handler_task
from ..models import Event, HandlerRun
from .sending import BROKER_ERRORS, publish_batch, reopen

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
    tasks: list[HandlerTask] = field(default_factory=list)  # the handler tasks to publish


def dispatch_pending(*, limit: int | None = None) -> DispatchReport:
    """One pass over the undispatched events that are due (not claimed by another
    dispatcher, not backing off after a failure of their own), oldest first."""
    return _dispatch(limit=limit or settings.EVENTS_DISPATCH_BATCH)


def dispatch_events(event_ids: list[int]) -> DispatchReport:
    """Dispatch these events now if they are not yet dispatched (staff asked: a
    backoff or a claim is not waited out)."""
    if not event_ids:
        return DispatchReport()
    return _dispatch(limit=len(event_ids), ids=event_ids)


def _dispatch(*, limit: int, ids: list[int] | None = None) -> DispatchReport:
    report = DispatchReport()
    claimed = _claim(limit=limit, ids=ids, report=report)
    if not claimed:
        return report
    # Fault tests: die with the runs written and the events claimed, nothing published.
    crash_point("events.before_publish")
    sent, unsent, error = _publish(claimed, report)
    # Fault tests: die with the tasks published and the events not marked.
    crash_point("events.before_mark")
    report.dispatched = claims.mark_dispatched(sent, at=timezone.now())
    if unsent:
        # The broker's fault, not the events': they are due again at once.
        Event.objects.filter(pk__in=unsent).update(next_dispatch_at=None, last_dispatch_error=error)
        report.failed += len(unsent)
        logger.warning("dispatch: %s event(s) left for the next pass: %s", len(unsent), error)
    if sent and logger.isEnabledFor(logging.INFO):
        # One line per event, naming it and its order, so one order can be followed
        # through every process's log.
        by_id = {claim.event_id: claim for claim in claimed}
        for event_id in sent:
            claim = by_id[event_id]
            with log_context(event_id=event_id, order_id=order_id_of(claim.stream)):
                logger.info("event=%s dispatched to %s handler(s)", event_id, len(claim.tasks))
    return report


def _claim(*, limit: int, ids: list[int] | None, report: DispatchReport) -> list[_Claim]:
    """Step 1: claim the events (one statement), fan them out, write their runs (one
    INSERT)."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.EVENTS_DISPATCH_LEASE)
    batch = claims.claim_events(now=now, until=until, limit=limit, ids=ids)
    report.claimed = len(batch)
    fanned_out: list[tuple[Event, list[HandlerTask]]] = []
    for event in batch:
        try:
            fanned_out.append((event, _handlers_of(event)))
        except Exception as exc:
            _fan_out_failed(event, exc)
            report.failed += 1
    with transaction.atomic():
        return _open_runs(fanned_out, now=now)


def _handlers_of(event: Event) -> list[HandlerTask]:
    """The handler tasks the event's receivers answer with (``Signal.send`` returns
    each receiver's answer); a receiver that wants nothing run answers None."""
    tasks = []
    for receiver, answer in event.event_type.send(sender=Event, event=event):
        if answer is None:
            continue
        if not is_handler_task(answer):
            # Only subscribe() connects receivers: anything else is a bug, and fails
            # this event's fan-out (kept undispatched, with the error) like any other.
            raise TypeError(f"receiver {receiver!r} answered {answer!r}, not an @event_handler task")
        tasks.append(answer)
    return tasks


def _open_runs(fanned_out: list[tuple[Event, list[HandlerTask]]], *, now: datetime) -> list[_Claim]:
    """Write the handler runs of a batch and say what to publish.

    An event claimed for the first time has no runs yet (the usual case): its runs
    are created in the batch's one INSERT. One claimed before (its dispatcher died, or
    the broker refused) may have some: an open one is sent again, one that is done, failed
    or skipped is not. A run a worker made itself meanwhile (a task sent by other
    means) is left alone."""
    retried = [event.pk for event, _ in fanned_out if event.dispatch_attempts > 1]
    existing = {}
    if retried:
        existing = {(r.event_id, r.handler): r for r in HandlerRun.objects.filter(event_id__in=retried)}
    new_runs, batch = [], []
    for event, tasks in fanned_out:
        claim = _Claim(event_id=event.pk, stream=event.stream)
        for task in tasks:
            run = existing.get((event.pk, task.name))
            if run is None:
                new_runs.append((event.pk, task.name, now + task.spec.lease))
            elif run.status in HandlerRun.OPEN:
                reopen(run, task.spec)
            else:
                continue
            claim.tasks.append(task)
        batch.append(claim)
    claims.insert_runs(new_runs)
    return batch


def _publish(batch: list[_Claim], report: DispatchReport) -> tuple[list[int], list[int], str]:
    """Step 2: publish every claim's tasks, as one batch. Returns the events whose
    tasks all went out, those not, and the broker's error: a batch goes whole or is
    sent again whole (sending a task twice is harmless)."""
    sends = [(task, claim.event_id) for claim in batch for task in claim.tasks]
    try:
        publish_batch(sends)
    except BROKER_ERRORS as exc:
        return [], [claim.event_id for claim in batch], f"{type(exc).__name__}: {exc}"[:2000]
    report.sent = len(sends)
    return [claim.event_id for claim in batch], [], ""


def _fan_out_failed(event: Event, exc: Exception) -> None:
    """An event that cannot be fanned out for a reason of its own would fail again at
    once: it waits longer after each failure (``next_dispatch_at``), so it neither
    floods the log nor goes away, and its error is kept for the admin."""
    attempts = event.dispatch_attempts  # this one counted by its claim
    delay = backoff(attempts)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    Event.objects.filter(pk=event.pk).update(
        last_dispatch_error=error, next_dispatch_at=timezone.now() + timedelta(seconds=delay)
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
