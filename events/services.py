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
  Sending twice is safe: handlers are idempotent per ``(event, handler)``.
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
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from project.logcontext import bind, log_context, order_id_of

from . import types
from .models import Event, HandlerRun, task_id_for

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
        Event.objects.filter(pk=event_id).update(
            dispatch_attempts=F("dispatch_attempts") + 1, last_dispatch_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    Event.objects.filter(pk=event_id, dispatched_at=None).update(
        dispatched_at=timezone.now(), dispatch_attempts=F("dispatch_attempts") + 1, last_dispatch_error=""
    )
    logger.info("event=%s dispatched to %s handlers", event_id, len(sends))
    return True


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
    """Count one more send; each one waits twice as long as the last (up to 32
    leases) before the relay sends again, so runs stuck behind a backlog, or on a
    queue nobody consumes, do not pile up copies every pass."""
    run.enqueued += 1
    run.deadline = timezone.now() + spec.lease * 2 ** min(run.enqueued - 1, 5)
    run.save(update_fields=["deadline", "enqueued", "updated_at"])


def _publish(task, run: HandlerRun) -> None:
    task.apply_async(args=[run.event_id], task_id=task_id_for(run.event_id, run.handler), queue=task.spec.queue)


@dataclass
class RelayReport:
    dispatched: int = 0
    resent: int = 0
    failed: int = 0


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
    # Fewest attempts first: an event that keeps failing cannot hold up newer ones.
    pending_events = Event.objects.filter(dispatched_at=None, occurred_at__lte=now - grace).order_by(
        "dispatch_attempts", "id"
    )
    overdue_runs = HandlerRun.objects.filter(
        status__in=HandlerRun.OPEN, deadline__lt=now, event__dispatched_at__isnull=False
    ).order_by("deadline")
    work = [("dispatched", dispatch, event_id) for event_id in pending_events.values_list("id", flat=True)[:limit]]
    work += [("resent", resend, run_id) for run_id in overdue_runs.values_list("id", flat=True)[:limit]]
    _send_each(work, report)
    if report.dispatched or report.resent or report.failed:
        logger.info(
            "relay: dispatched %s events, re-sent %s runs, %s failed", report.dispatched, report.resent, report.failed
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
        run = (
            HandlerRun.objects.select_for_update(skip_locked=True).filter(pk=run_id, status__in=HandlerRun.OPEN).first()
        )
        if run is None or (only_overdue and run.deadline >= timezone.now()):
            return False
        bind(event_id=run.event_id, handler=run.handler, order_id=order_id_of(run.event.stream))
        task = current_app.tasks.get(run.handler)
        if task is None:
            # Its handler was removed from the code: nothing will ever run it.
            run.status = HandlerRun.Status.FAILED
            run.last_error = f"no task named {run.handler} is registered"
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "last_error", "finished_at", "updated_at"])
            logger.error("run=%s: %s; marked failed", run.pk, run.last_error)
            return False
        overdue_since = run.deadline
        _reopen(run, task.spec)
    try:
        _publish(task, run)
    except Exception:
        HandlerRun.objects.filter(pk=run_id, deadline=run.deadline).update(deadline=overdue_since)
        raise
    logger.info("run=%s handler=%s event=%s re-sent", run.pk, run.handler, run.event_id)
    return True


def retry_failed(run_id: int) -> bool:
    """Give a failed (dead-lettered) run a fresh set of attempts and send it again.

    Idempotent: a run that is not failed is left as it is.
    """
    with transaction.atomic():
        updated = HandlerRun.objects.filter(pk=run_id, status=HandlerRun.Status.FAILED).update(
            status=HandlerRun.Status.PENDING, attempts=0, finished_at=None, deadline=timezone.now()
        )
        if updated:
            # If the broker refuses now, the run is open and due: the relay sends it.
            transaction.on_commit(partial(resend, run_id, only_overdue=False), robust=True)
    return bool(updated)
