"""Recovery: what the relay does besides dispatching.

A handler run whose message was lost (a worker killed with it, a Redis visibility
timeout, a filesystem broker) is still open when its deadline passes: the relay sends
its task again. Sending twice is safe: handlers are idempotent per ``(event,
handler)``. Re-sends are bounded: a run sent ``EVENTS_MAX_RESENDS`` times in a row
with no worker taking it is dead-lettered (``failed``, retryable), and each re-send in
a row waits twice as long as the last (``sending.reopen``).

``relay`` is one whole pass: a dispatch pass (``dispatch.dispatch_pending``), then the
overdue runs. The relay process (``manage.py relay_events --loop``) and the periodic
task ``events.relay`` both run it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from project.logcontext import bind, log_context, order_id_of

from .. import selectors
from ..handlers import handler_task
from ..models import HandlerRun
from .dispatch import dispatch_pending
from .sending import BROKER_ERRORS, publish, reopen

logger = logging.getLogger("events.relay")


@dataclass
class RelayReport:
    dispatched: int = 0
    resent: int = 0
    failed: int = 0
    gave_up: int = 0  # runs dead-lettered: sent EVENTS_MAX_RESENDS times, never taken


def relay(*, limit: int = 500) -> RelayReport:
    """Dispatch what is due, then send again the runs past their deadline.

    Stops at the first broker error: with the broker down every publish would fail
    the same way, and the next pass starts over. Any other error concerns one item
    only (say, a handler no longer in the code): it is logged and skipped, so it
    cannot hold up everything behind it.
    """
    report = RelayReport()
    dispatch = dispatch_pending(limit=limit)
    report.dispatched, report.failed = dispatch.dispatched, dispatch.failed
    # A run of an undispatched event is the dispatcher's to send, not the relay's.
    overdue = selectors.open_runs_overdue(before=timezone.now()).filter(event__dispatched_at__isnull=False)
    unconsumed = overdue.filter(resends__gte=settings.EVENTS_MAX_RESENDS)
    report.gave_up = sum(give_up(run_id) for run_id in unconsumed.values_list("id", flat=True)[:limit])
    _send_each([("resent", resend, run_id) for run_id in overdue.values_list("id", flat=True)[:limit]], report)
    if report.dispatched or report.resent or report.failed or report.gave_up:
        logger.info(
            "relay: dispatched %s events, re-sent %s runs, gave up on %s, %s failed",
            report.dispatched,
            report.resent,
            report.gave_up,
            report.failed,
        )
    return report


def resend_now(run_ids: list[int]) -> RelayReport:
    """Send these open runs again now, due or not (staff asked), with the relay's rules
    for errors."""
    send_again = partial(resend, only_overdue=False)
    return _send_each([("resent", send_again, run_id) for run_id in run_ids], RelayReport())


def _send_each(work: list[tuple[str, Callable[[int], bool], int]], report: RelayReport) -> RelayReport:
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
        run = runs.filter(pk=run_id, status__in=HandlerRun.OPEN).select_related("event").first()
        if run is None or (only_overdue and run.deadline >= timezone.now()):
            return False
        if only_overdue and run.resends >= settings.EVENTS_MAX_RESENDS:
            return False  # the relay's to give up on, not to send once more
        bind(event_id=run.event_id, handler=run.handler, order_id=order_id_of(run.event.stream))
        task = handler_task(run.handler)
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
        reopen(run, task.spec)
    try:
        publish(task, run.event_id)
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
        task = handler_task(run.handler)
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
