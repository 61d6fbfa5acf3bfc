"""Event handlers: Celery tasks that apply one receiver's effect at most once per event.

``@event_handler`` turns ``fn(event)`` into a task. Each run of the task:

* returns at once if the ``HandlerRun`` for ``(event, handler)`` is already done (or
  failed, or skipped by staff): a redelivered or re-sent task changes nothing;
* claims the run, calls ``fn`` and marks the run done **in one transaction**, under
  the run's row lock, so the effect and the idempotency record commit together or not
  at all, at the cost of one SELECT and one UPDATE around the effect;
* a message the broker delivers again (its first delivery died with its worker) goes
  the careful way: the attempt is counted and leased in a short transaction of its
  own first, so a handler that kills its worker every time still runs out of
  attempts;
* on any error (a hung call is cut by the soft time limit), rolls the effect back,
  records the error, and retries with exponential backoff and jitter until
  ``max_attempts``; then the run is ``failed`` (the dead letter), visible and
  retryable in the admin.

Effects that leave the system (gateway, email) cannot roll back: they must pass
``event.key`` on as their idempotency key. The handler sees which attempt it is in
``event.attempt`` (1 for the first; ``spec.max_attempts`` for the last), so it can end
its work differently when no retry is left. An error carrying ``retry_after`` (seconds,
e.g. from a remote side's 429 ``Retry-After``) delays the next attempt at least that long.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from celery import Task, current_app, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from project.logcontext import bind, log_context, order_id_of

from . import claims
from .models import Event, HandlerRun

logger = logging.getLogger(__name__)

# Slack for a scheduled retry whose timer fires a hair before its countdown is up.
EARLY = timedelta(seconds=1)


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    queue: str
    max_attempts: int
    timeout: float  # seconds a send may stay unhandled before the relay sends it again

    @property
    def hard_time_limit(self) -> float:
        """Seconds after which the worker kills an attempt the soft limit did not stop."""
        return self.timeout + 15

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout)

    def deadline(self, delay: float = 0.0) -> datetime:
        return timezone.now() + timedelta(seconds=delay) + self.lease


# Every handler declared with ``@event_handler``, by name (for the start-up checks).
_specs: dict[str, HandlerSpec] = {}


def handler_specs() -> list[HandlerSpec]:
    return sorted(_specs.values(), key=lambda spec: spec.name)


class HandlerTask(Task[[int], None]):
    """The Celery task ``@event_handler`` makes: called with an event id, it applies
    its handler to that event once; ``spec`` says which handler, on which queue, with
    how many attempts. The dispatcher and the relay publish these, never bare tasks."""

    spec: HandlerSpec


def is_handler_task(task: object) -> TypeGuard[HandlerTask]:
    return isinstance(task, HandlerTask)


def handler_task(name: str) -> HandlerTask | None:
    """The registered handler task of that name, or None (its handler was removed from
    the code, or the name is a task that is no handler)."""
    task = current_app.tasks.get(name)
    return task if is_handler_task(task) else None


def event_handler(
    name: str, *, queue: str, max_attempts: int = 8, timeout: float | None = None
) -> Callable[[Callable[[Event], None]], HandlerTask]:
    """``timeout`` defaults to ``EVENTS_HANDLER_TIMEOUT`` (45 s): how long an attempt
    may run, and how long a run may stay unhandled before the relay sends it again."""
    if timeout is None:
        timeout = float(settings.EVENTS_HANDLER_TIMEOUT)
    spec = HandlerSpec(name=name, queue=queue, max_attempts=max_attempts, timeout=timeout)
    _specs[name] = spec

    def decorate(fn: Callable[[Event], None]) -> HandlerTask:
        def handle(self: HandlerTask, event_id: int) -> None:
            run_handler(self, spec, fn, event_id)

        handle.__doc__ = fn.__doc__
        # The spec is a class attribute of the task Celery makes (an option of the
        # decorator), so every app's copy of the task carries it. The ignore: the stubs
        # (celery-types) declare the time limits int, Celery takes seconds as a float.
        task: HandlerTask = shared_task(  # type: ignore[call-overload]
            name=name,
            base=HandlerTask,
            spec=spec,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            # The soft limit raises inside the handler, so a hung call is rolled back
            # and counted like any failure; the hard limit is the backstop.
            soft_time_limit=timeout,
            time_limit=spec.hard_time_limit,
            # Attempts are counted in the HandlerRun row, which survives re-sends by
            # the relay; Celery's own per-message counter must not cut them short.
            max_retries=None,
        )(handle)
        return task

    return decorate


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: exponential, capped, with jitter so that a
    crowd of runs failing together does not retry together."""
    ceiling: float = min(settings.EVENTS_RETRY_BACKOFF_MAX, settings.EVENTS_RETRY_BACKOFF_BASE * 2 ** (attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)


def run_handler(task: HandlerTask, spec: HandlerSpec, fn: Callable[[Event], None], event_id: int) -> None:
    """One delivery of the handler's task; every line it logs names the event, the
    order, the handler and the task."""
    with log_context(event_id=event_id, handler=spec.name, task_id=getattr(task.request, "id", None)):
        if _redelivered(task):
            # The broker delivers this message again: its first delivery may have died
            # mid-attempt (a worker killed, out of memory). Count the attempt and commit
            # that before running it, so a handler that kills its worker every time
            # still ends failed instead of looping.
            run_id = _start_attempt(event_id, spec)
            if run_id is not None:
                _apply(task, spec, fn, run_id)
        else:
            _apply_at_once(task, spec, fn, event_id)


def _redelivered(task: HandlerTask) -> bool:
    return bool((getattr(task.request, "delivery_info", None) or {}).get("redelivered"))


class _Skip(Exception):
    """The run is not this delivery's to apply (a duplicate, done, backing off)."""


def _apply_at_once(task: HandlerTask, spec: HandlerSpec, fn: Callable[[Event], None], event_id: int) -> None:
    """The usual delivery: claim the run, apply the effect and mark the run done in
    ONE transaction, under the run's row lock (the lock is the lease: a duplicate
    delivery and the relay pass over a locked run). If the worker dies inside, the
    transaction is rolled back and the broker delivers the message again, flagged
    redelivered: that attempt is counted first (``run_handler``). A pending run costs
    two statements around its effect (``events.claims``); any other is looked at
    whole."""
    began = time.monotonic()
    run_id = None
    try:
        with transaction.atomic():
            claimed = claims.claim(event_id, spec.name)
            if claimed is None:
                raise _Skip
            run_id = claimed.run_id
            bind(order_id=order_id_of(claimed.event.stream))
            if claimed.status != HandlerRun.Status.PENDING or claimed.attempts >= spec.max_attempts:
                run = HandlerRun.objects.select_related("event").get(pk=run_id)  # locked above
                if not _may_start(run, spec):
                    return
            started_at = timezone.now()
            claimed.event.attempt = claimed.attempts + 1
            fn(claimed.event)
            claims.finish(
                run_id, attempts=claimed.attempts + 1, started_at=started_at, duration=time.monotonic() - began
            )
        logger.info("event=%s handler=%s done", event_id, spec.name)
    except _Skip:
        if HandlerRun.objects.filter(event_id=event_id, handler=spec.name).exists():
            # Locked: another worker is inside this handler right now. Waiting for it
            # would only hold this worker; its outcome (done, or a retry) decides.
            logger.info("event=%s handler=%s running elsewhere; duplicate skipped", event_id, spec.name)
            return
        # No run at all (a task sent by other means): the careful path makes one.
        run_id = _start_attempt(event_id, spec)
        if run_id is not None:
            _apply(task, spec, fn, run_id)
    except Exception as exc:
        if run_id is None:
            raise
        retry_in = _record_failure(run_id, spec, exc, duration=time.monotonic() - began, counted=False)
        if retry_in is not None:
            raise task.retry(exc=exc, countdown=retry_in) from exc


def _apply(task: HandlerTask, spec: HandlerSpec, fn: Callable[[Event], None], run_id: int) -> None:
    """Apply the effect of a run whose attempt ``_start_attempt`` counted and leased,
    and mark it done, in one transaction under the run's row lock."""
    began = time.monotonic()
    try:
        with transaction.atomic():
            # of=("self",): lock the run, not the joined event, which the dispatcher
            # and sibling handlers of the same event must stay free to update.
            run = HandlerRun.objects.select_for_update(of=("self",)).select_related("event").get(pk=run_id)
            if run.status not in HandlerRun.OPEN:
                # A duplicate delivery got here first and finished while we waited.
                logger.info("event=%s handler=%s already %s; skipped", run.event_id, spec.name, run.status)
                return
            run.event.attempt = run.attempts  # counted by _start_attempt
            fn(run.event)
            _mark_done(run, began)
        logger.info("event=%s handler=%s done", run.event_id, spec.name)
    except Exception as exc:
        retry_in = _record_failure(run_id, spec, exc, duration=time.monotonic() - began, counted=True)
        if retry_in is not None:
            raise task.retry(exc=exc, countdown=retry_in) from exc


def _mark_done(run: HandlerRun, began: float, *, also: tuple[str, ...] = ()) -> None:
    run.status = HandlerRun.Status.DONE
    run.last_error = ""
    run.finished_at = timezone.now()
    run.last_duration = time.monotonic() - began
    run.save(update_fields=["status", "last_error", "finished_at", "last_duration", "updated_at", *also])


def _may_start(run: HandlerRun, spec: HandlerSpec) -> bool:
    """Whether this delivery may attempt the run now; if not, says why in the log (and
    dead-letters a run out of attempts). The caller holds the run's row lock."""
    event_id = run.event_id
    if run.status not in HandlerRun.OPEN:
        logger.info("event=%s handler=%s already %s; skipped", event_id, spec.name, run.status)
        return False
    if run.status == HandlerRun.Status.RUNNING and run.deadline > timezone.now():
        # A duplicate of a message another worker is handling: leave it the lease
        # (if that worker dies, the relay re-sends once the lease runs out).
        logger.info("event=%s handler=%s running elsewhere; duplicate skipped", event_id, spec.name)
        return False
    if run.status == HandlerRun.Status.RETRYING and run.deadline - spec.lease - EARLY > timezone.now():
        # A copy arriving during the backoff (a redelivery, a relay re-send): the
        # scheduled retry comes at its time; running now would cut the backoff
        # short and start a second retry chain.
        logger.info("event=%s handler=%s backing off; early copy skipped", event_id, spec.name)
        return False
    if run.attempts >= spec.max_attempts:
        never_finished = "attempts exhausted: the last attempt never finished (worker killed or hung)"
        run.dead_letter(never_finished if run.status == HandlerRun.Status.RUNNING else run.last_error)
        logger.error("event=%s handler=%s failed: %s", event_id, spec.name, run.last_error)
        return False
    return True


def _asked_delay(exc: Exception) -> float:
    """The delay the failed call's other side asked for (an HTTP 429's ``Retry-After``,
    carried by the exception as ``retry_after`` seconds), capped like the backoff."""
    asked = getattr(exc, "retry_after", None)
    if not isinstance(asked, int | float) or asked <= 0:
        return 0.0
    return min(float(asked), float(settings.EVENTS_RETRY_BACKOFF_MAX))


def _start_attempt(event_id: int, spec: HandlerSpec) -> int | None:
    """Count the attempt and take the run's lease, committed before the handler runs.

    Counting up front means an attempt that never reaches ``_record_failure`` (the
    worker was killed, ran out of memory, hit the hard time limit) still counts, so
    such a run ends ``failed`` instead of being re-sent forever. The lease (status
    ``running``, deadline now + timeout) tells a duplicate delivery to stand aside
    without using up an attempt, and the relay to wait for a run a worker is busy
    with, however long it sat in the queue. Returns None if there is nothing to do.
    """
    with transaction.atomic():
        event = Event.objects.filter(pk=event_id).first()
        if event is None:
            # Nothing to apply and nothing to retry: a message outliving its database.
            logger.error("event=%s handler=%s: no such event; message dropped", event_id, spec.name)
            return None
        bind(order_id=order_id_of(event.stream))
        runs = HandlerRun.objects.filter(event=event, handler=spec.name)
        run = runs.select_for_update(skip_locked=True).first()
        if run is None and runs.exists():
            logger.info("event=%s handler=%s running elsewhere; duplicate skipped", event_id, spec.name)
            return None
        if run is None:
            # Normally the dispatcher created the run; a task sent by other means (an
            # old message, a shell) gets one here.
            run, _ = HandlerRun.objects.select_for_update().get_or_create(
                event=event, handler=spec.name, defaults={"deadline": spec.deadline()}
            )
        if not _may_start(run, spec):
            return None
        run.status = HandlerRun.Status.RUNNING
        run.attempts += 1
        # A worker took it: the relay's count of sends nobody took starts over (the
        # attempts bound the rest).
        run.resends = 0
        run.deadline = spec.deadline()
        run.started_at = timezone.now()
        run.save(update_fields=["status", "attempts", "resends", "deadline", "started_at", "updated_at"])
        return run.pk


def _record_failure(run_id: int, spec: HandlerSpec, exc: Exception, *, duration: float, counted: bool) -> float | None:
    """Record the failed attempt's error in its own transaction; return the retry
    delay, or None when the run has used up its attempts and is now failed.
    ``counted``: whether the attempt was already counted (``_start_attempt``); one
    claimed in the effect's transaction was rolled back with it, and is counted here."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        run = HandlerRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in HandlerRun.OPEN:
            return None
        run.last_duration = duration
        if not counted:
            run.attempts += 1
            run.resends = 0
            run.started_at = timezone.now() - timedelta(seconds=duration)
        if run.attempts >= spec.max_attempts:
            run.dead_letter(error, also=("last_duration", "attempts", "resends", "started_at"))
            logger.error(
                "event=%s handler=%s failed after %s attempts: %s", run.event_id, spec.name, run.attempts, error
            )
            return None
        run.last_error = error
        run.status = HandlerRun.Status.RETRYING
        retry_in = max(backoff(run.attempts), _asked_delay(exc))
        run.deadline = spec.deadline(delay=retry_in)
        logger.warning(
            "event=%s handler=%s attempt %s failed (%s); retry in %.1fs",
            run.event_id,
            spec.name,
            run.attempts,
            error,
            retry_in,
        )
        run.save(
            update_fields=[
                "last_error",
                "last_duration",
                "status",
                "deadline",
                "attempts",
                "resends",
                "started_at",
                "updated_at",
            ]
        )
    return retry_in
