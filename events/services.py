"""The outbox: record events with their change, dispatch them after commit, relay
whatever was left behind.

Guarantees:
* ``record`` writes the event in the caller's transaction, so an event exists exactly
  when the change it announces committed.
* ``dispatch`` sends the event's signal; each receiver ``enqueue``s its handler. The
  event is marked dispatched only once the broker took every task; if any publish
  fails nothing is marked and the relay tries again.
* ``relay`` dispatches events left undispatched (process died, broker down) and sends
  again handler runs that are past their deadline (message lost, worker killed).
  Sending twice is safe: handlers are idempotent per ``(event, handler)``. Both are
  bounded: a run sent ``EVENTS_MAX_RESENDS`` times in a row with no worker taking it
  is dead-lettered (``failed``, retryable); an event whose dispatch fails for a reason
  of its own waits longer after each failure, and stays undispatched, visible, until
  it goes through: it is never dropped.
* ``retry_failed`` / ``skip_failed`` are staff's two answers to a dead letter.
* ``prune`` deletes old events that are completely handled, never anything still due.
"""

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial

from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from project.faults import crash_point, publish_copies
from project.logcontext import bind, log_context, order_id_of

from . import selectors, types
from .handlers import backoff
from .models import Event, HandlerRun, PrunedTally, task_id_for

logger = logging.getLogger(__name__)

# What a publish raises when the broker cannot be reached.
BROKER_ERRORS = (BrokerOperationalError, ConnectionError, OSError)


def record(event_type: types.EventType, **payload) -> Event:
    """Add an event to the outbox inside the caller's transaction.

    The payload must carry exactly the fields the event type declares. The event is
    dispatched after the transaction commits, and never if it rolls back.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events.record must run inside the transaction of the change it announces")
    if set(payload) != set(event_type.fields):
        raise ValueError(f"{event_type.name} takes {sorted(event_type.fields)}, got {sorted(payload)}")
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    event = Event.objects.create(type=event_type.name, stream=event_type.stream_of(payload), payload=payload)
    transaction.on_commit(partial(_dispatch_after_commit, event.pk))
    return event


def _dispatch_after_commit(event_id: int) -> None:
    # Fault tests: die with the event committed and not dispatched (project/faults.py).
    crash_point("events.before_dispatch")
    try:
        dispatch(event_id)
    except Exception:
        # The change is committed and the client is owed its answer; the relay will
        # dispatch the event once the broker is back.
        logger.warning("event=%s left for the relay: dispatch failed", event_id, exc_info=True)


# While ``dispatch`` runs its transaction, ``enqueue`` collects tasks here instead of
# publishing them from inside it.
_collected_sends: ContextVar[list | None] = ContextVar("events_collected_sends", default=None)


def dispatch(event_id: int) -> bool:
    """Send the event's signal so every receiver enqueues its handler; mark it dispatched.

    Three steps, so that no database lock is held while the broker is being talked to:
    (1) in a transaction, lock the event and send its signal: each receiver's
    ``enqueue`` writes its handler run and hands back the task to send; commit.
    (2) Publish the tasks. (3) Mark the event dispatched. A crash or a broker error
    between (1) and (3) leaves the event undispatched with its runs open, and the
    relay dispatches it again: publishing twice is harmless.

    Returns False if the event is already dispatched or another process holds it.
    Raises if the broker refuses a task; the event then stays undispatched.
    """
    with log_context(event_id=event_id):
        return _dispatch(event_id)


def _dispatch(event_id: int) -> bool:
    try:
        sends = _fan_out(event_id)
        if sends is None:
            return False
        for task, run in sends:
            _publish(task, run)
    except Exception as exc:
        _record_dispatch_failure(event_id, exc)
        raise
    Event.objects.filter(pk=event_id, dispatched_at=None).update(
        dispatched_at=timezone.now(),
        dispatch_attempts=F("dispatch_attempts") + 1,
        last_dispatch_error="",
        next_dispatch_at=None,
    )
    logger.info("event=%s dispatched to %s handlers", event_id, len(sends))
    return True


def _record_dispatch_failure(event_id: int, exc: Exception) -> None:
    """Count the failed dispatch and keep its error on the event (the admin's "failing"
    filter shows it). An error of the broker's says nothing about the event: it is
    dispatched as soon as the broker is back. Any other (its type is no longer
    declared, a receiver raises) would fail again at once: the relay waits longer
    after each one, so a poison event neither floods the log nor goes away."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, BROKER_ERRORS):
        Event.objects.filter(pk=event_id).update(
            dispatch_attempts=F("dispatch_attempts") + 1, last_dispatch_error=error
        )
        return
    attempts = (Event.objects.filter(pk=event_id).values_list("dispatch_attempts", flat=True).first() or 0) + 1
    delay = backoff(attempts)
    Event.objects.filter(pk=event_id).update(
        dispatch_attempts=F("dispatch_attempts") + 1,
        last_dispatch_error=error,
        next_dispatch_at=timezone.now() + timezone.timedelta(seconds=delay),
    )
    logger.error(
        "event=%s could not be dispatched (%s attempts, next in %.0fs): %s; it stays undispatched",
        event_id,
        attempts,
        delay,
        error,
    )


def _fan_out(event_id: int) -> list[tuple[object, HandlerRun]] | None:
    """Step (1) of ``dispatch``: the signal's receivers write their runs and hand
    back the tasks to publish. None if the event is dispatched or held elsewhere."""
    sends: list[tuple[object, HandlerRun]] = []
    collecting = _collected_sends.set(sends)
    try:
        with transaction.atomic():
            event = Event.objects.select_for_update(skip_locked=True).filter(pk=event_id, dispatched_at=None).first()
            if event is None:
                return None
            bind(order_id=order_id_of(event.stream))
            types.get(event.type).send(sender=Event, event=event)
    finally:
        _collected_sends.reset(collecting)
    return sends


def enqueue(task, event: Event) -> None:
    """Create (or reopen the deadline of) the handler run and send its task.

    Called by receivers during ``dispatch``, which publishes after its transaction
    commits. The task id is deterministic, ``<event id>:<handler>``, so the broker,
    the logs and the admin name the same run.
    """
    spec = task.spec
    run, created = HandlerRun.objects.get_or_create(
        event=event, handler=spec.name, defaults={"deadline": spec.deadline(), "enqueued": 1}
    )
    if not created:
        if run.status not in HandlerRun.OPEN:
            return
        _reopen(run, spec)
    sends = _collected_sends.get()
    if sends is None:
        _publish(task, run)
    else:
        sends.append((task, run))


def _reopen(run: HandlerRun, spec) -> None:
    """Count one more send and set when the relay may send again: one lease after a
    first send, and each re-send in a row waits twice as long as the last (up to 32
    leases), so runs stuck behind a backlog, or on a queue nobody consumes, do not
    pile up copies every pass. The doubling counts ``resends``, which starts over
    when a worker takes the run or staff retry it, so a run that was handled once and
    lost again later is re-sent within a lease, not after the longest wait."""
    run.enqueued += 1
    run.deadline = timezone.now() + spec.lease * 2 ** min(run.resends, 5)
    run.save(update_fields=["status", "deadline", "enqueued", "resends", "updated_at"])


def _publish(task, run: HandlerRun) -> None:
    # More than once only in fault tests: every message delivered twice (project/faults.py).
    for _ in range(publish_copies()):
        task.apply_async(args=[run.event_id], task_id=task_id_for(run.event_id, run.handler), queue=task.spec.queue)


@dataclass
class RelayReport:
    dispatched: int = 0
    resent: int = 0
    failed: int = 0
    gave_up: int = 0  # runs dead-lettered: sent EVENTS_MAX_RESENDS times, never taken


def relay(*, limit: int = 500) -> RelayReport:
    """Dispatch events left undispatched and send again runs past their deadline.

    Stops at the first broker error: with the broker down every publish would fail
    the same way, and the next relay tick starts over. Any other error concerns one
    item only (say, an event type no longer declared): it is logged and skipped, so
    it cannot hold up everything behind it.
    """
    report = RelayReport()
    now = timezone.now()
    grace = timezone.timedelta(seconds=settings.EVENTS_RELAY_GRACE_SECONDS)
    # Fewest attempts first: an event that keeps failing cannot hold up newer ones;
    # one that failed for a reason of its own waits for its next try.
    # The same "undispatched" and "overdue" the invariant checker reports on.
    pending_events = (
        selectors.undispatched_before(before=now - grace)
        .filter(Q(next_dispatch_at=None) | Q(next_dispatch_at__lte=now))
        .order_by("dispatch_attempts", "id")
    )
    # A run of an undispatched event is the dispatcher's to send, not the relay's.
    overdue_runs = selectors.open_runs_overdue(before=now).filter(event__dispatched_at__isnull=False)
    unconsumed = overdue_runs.filter(resends__gte=settings.EVENTS_MAX_RESENDS)
    report.gave_up = sum(give_up(run_id) for run_id in unconsumed.values_list("id", flat=True)[:limit])
    work = [("dispatched", dispatch, event_id) for event_id in pending_events.values_list("id", flat=True)[:limit]]
    work += [("resent", resend, run_id) for run_id in overdue_runs.values_list("id", flat=True)[:limit]]
    _send_each(work, report)
    if report.dispatched or report.resent or report.failed or report.gave_up:
        logger.info(
            "relay: dispatched %s events, re-sent %s runs, gave up on %s, %s failed",
            report.dispatched,
            report.resent,
            report.gave_up,
            report.failed,
        )
    return report


def dispatch_now(event_ids: list[int]) -> RelayReport:
    """Dispatch these events now (staff asked), with the relay's rules for errors."""
    return _send_each([("dispatched", dispatch, event_id) for event_id in event_ids], RelayReport())


def resend_now(run_ids: list[int]) -> RelayReport:
    """Send these open runs again now, due or not (staff asked), with the relay's rules
    for errors."""
    send_again = partial(resend, only_overdue=False)
    return _send_each([("resent", send_again, run_id) for run_id in run_ids], RelayReport())


def _send_each(work: list, report: RelayReport) -> RelayReport:
    """Run each ``(counter, action, id)``, counting what it did into ``report``. A
    broker error ends the batch (every other publish would fail alike); any other
    error concerns that one item: it is logged and skipped."""
    for counter, action, item_id in work:
        try:
            if action(item_id):
                setattr(report, counter, getattr(report, counter) + 1)
        except BROKER_ERRORS:
            report.failed += 1
            logger.warning("events: %s %s failed: broker unreachable; stopping here", counter, item_id)
            break
        except Exception:
            report.failed += 1
            logger.exception("events: %s %s failed; skipped", counter, item_id)
    return report


def resend(run_id: int, *, only_overdue: bool = True) -> bool:
    """Send an open run's task again (its message was lost, or staff asked).

    The run's new deadline is committed before publishing; if the broker refuses,
    the deadline is put back so the next relay pass tries again at once.
    """
    with log_context():
        return _resend(run_id, only_overdue=only_overdue)


def _resend(run_id: int, *, only_overdue: bool) -> bool:
    with transaction.atomic():
        # The relay passes over a run someone holds (a worker inside it, another relay);
        # a send asked for by staff or by retry_failed waits its turn instead, or it
        # could be lost to a transaction that only looked at the row in passing.
        runs = HandlerRun.objects.select_for_update(skip_locked=only_overdue)
        run = runs.filter(pk=run_id, status__in=HandlerRun.OPEN).first()
        if run is None or (only_overdue and run.deadline >= timezone.now()):
            return False
        if only_overdue and run.resends >= settings.EVENTS_MAX_RESENDS:
            return False  # the relay's to give up on, not to send once more
        bind(event_id=run.event_id, handler=run.handler, order_id=order_id_of(run.event.stream))
        task = current_app.tasks.get(run.handler)
        if task is None:
            # Its handler was removed from the code: nothing will ever run it.
            _dead_letter(run, f"no task named {run.handler} is registered")
            return False
        overdue_since, status_before = run.deadline, run.status
        if run.deadline < timezone.now():
            # A running run past its lease lost its worker; a retrying one past its
            # backoff lost its scheduled retry. Either way nobody holds it: the copy sent
            # now must take it, and would stand aside for a lease or backoff that the
            # new deadline below seems to extend.
            run.status = HandlerRun.Status.PENDING
        # The relay's sends count towards its bound; one staff asked for (or a retry)
        # starts the run afresh instead.
        counted = 1 if only_overdue else 0
        run.resends += counted
        _reopen(run, task.spec)
    try:
        _publish(task, run)
    except Exception:
        HandlerRun.objects.filter(pk=run_id, deadline=run.deadline).update(
            deadline=overdue_since, status=status_before, resends=F("resends") - counted
        )
        raise
    logger.info("run=%s handler=%s event=%s re-sent", run.pk, run.handler, run.event_id)
    return True


def give_up(run_id: int) -> bool:
    """Dead-letter an open run the relay has sent ``EVENTS_MAX_RESENDS`` times in a row
    without any worker taking it (no worker consumes its queue, or every copy was
    lost): ``failed``, with a last error that says so, so that it is seen and can be
    retried instead of being sent again forever. One transaction, under the run's row
    lock; a run that was taken meanwhile, or is not overdue, is left alone."""
    with transaction.atomic():
        run = (
            HandlerRun.objects.select_for_update(skip_locked=True)
            .filter(
                pk=run_id,
                status__in=HandlerRun.OPEN,
                deadline__lt=timezone.now(),
                resends__gte=settings.EVENTS_MAX_RESENDS,
            )
            .first()
        )
        if run is None:
            return False
        task = current_app.tasks.get(run.handler)
        queue = f"queue {task.spec.queue!r}" if task is not None else "its queue"
        error = (
            f"gave up: sent {run.enqueued} times ({run.resends} re-sends in a row) and never taken by a worker "
            f"before its deadline; is a worker consuming {queue}?"
        )
        if run.last_error:
            error += f" Last error: {run.last_error}"
        _dead_letter(run, error)
    return True


def _dead_letter(run: HandlerRun, error: str) -> None:
    run.dead_letter(error)
    logger.error("run=%s handler=%s event=%s failed: %s", run.pk, run.handler, run.event_id, run.last_error)


def retry_failed(run_id: int) -> bool:
    """Give a failed (dead-lettered) run a fresh set of attempts and send it again.

    Idempotent, and safe to call twice at once: the reopening is one conditional
    UPDATE (``status = failed``), so of two calls (two staff clicks, the admin and the
    command) exactly one reopens the run and sends it; the other changes nothing and
    returns False. Replaying a run whose effect is already applied applies nothing: the
    handler finds its effect's own idempotency record (a paid order, a charge under
    the same gateway key, a notification of the same event) and does nothing twice.
    """
    with transaction.atomic():
        updated = HandlerRun.objects.filter(pk=run_id, status=HandlerRun.Status.FAILED).update(
            status=HandlerRun.Status.PENDING,
            attempts=0,
            resends=0,
            finished_at=None,
            deadline=timezone.now(),
            updated_at=timezone.now(),
        )
        if updated:
            # If the broker refuses now, the run is open and due: the relay sends it.
            transaction.on_commit(partial(resend, run_id, only_overdue=False), robust=True)
    return bool(updated)


def skip_failed(run_id: int, *, by: str, reason: str = "") -> bool:
    """Give a failed (dead-lettered) run up for good: it becomes ``skipped``, a final
    status that neither the relay, nor a late copy of its task, nor a retry ever runs
    again. Who skipped it, when and why is kept at the top of ``last_error``, above the
    error it failed with.

    One transaction under the run's row lock: idempotent, and a run that is not failed
    (it was retried meanwhile) is left alone; returns whether this call skipped it.
    """
    now = timezone.now()
    note = f"skipped by {by} at {now:%Y-%m-%d %H:%M:%S %Z}" + (f": {reason}" if reason else "")
    with transaction.atomic():
        run = HandlerRun.objects.select_for_update().filter(pk=run_id, status=HandlerRun.Status.FAILED).first()
        if run is None:
            return False
        run.status = HandlerRun.Status.SKIPPED
        run.last_error = f"{note}\n{run.last_error}"[:4000]
        run.finished_at = now
        run.save(update_fields=["status", "last_error", "finished_at", "updated_at"])
    logger.warning("run=%s handler=%s event=%s %s", run.pk, run.handler, run.event_id, note)
    return True


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
            report.events += Event.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            break
    if report.events:
        logger.info("prune: deleted %s events and %s handler runs", report.events, report.runs)
    return report
