"""Event handlers: Celery tasks that apply one receiver's effect at most once per event.

``@event_handler`` turns ``fn(event)`` into a task. Each run of the task:

* locks the ``HandlerRun`` row for ``(event, handler)`` and returns at once if it is
  already done (or given up): a redelivered or re-sent task changes nothing;
* calls ``fn`` and marks the run done **in the same transaction**, so the effect and
  the idempotency record commit together or not at all;
* on any error, rolls the effect back, records the attempt and the error, and retries
  with exponential backoff and jitter until ``max_attempts``; then the run is
  ``failed`` (the dead letter), visible and retryable in the admin.

Effects that leave the system (gateway, email) cannot roll back: they must pass
``event.key`` on as their idempotency key.
"""

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Event, HandlerRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    queue: str
    max_attempts: int
    timeout: float  # seconds a send may stay unhandled before the relay sends it again

    def deadline(self, delay: float = 0.0):
        return timezone.now() + timezone.timedelta(seconds=delay + self.timeout)


def event_handler(name: str, *, queue: str, max_attempts: int = 8, timeout: float = 45.0):
    spec = HandlerSpec(name=name, queue=queue, max_attempts=max_attempts, timeout=timeout)

    def decorate(fn: Callable[[Event], None]):
        @shared_task(
            name=name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            time_limit=timeout,
            # Attempts are counted in the HandlerRun row, which survives re-sends by
            # the relay; Celery's own per-message counter must not cut them short.
            max_retries=None,
        )
        def task(self, event_id: int) -> None:
            run_handler(self, spec, fn, event_id)

        task.spec = spec
        task.__doc__ = fn.__doc__
        return task

    return decorate


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: exponential, capped, with jitter so that a
    crowd of runs failing together does not retry together."""
    ceiling = min(settings.EVENTS_RETRY_BACKOFF_MAX, settings.EVENTS_RETRY_BACKOFF_BASE * 2 ** (attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)


def run_handler(task, spec: HandlerSpec, fn: Callable[[Event], None], event_id: int) -> None:
    try:
        with transaction.atomic():
            run = _lock_run(event_id, spec)
            if run is None:
                return
            if run.status not in HandlerRun.OPEN:
                logger.info("event=%s handler=%s already %s; skipped", event_id, spec.name, run.status)
                return
            fn(run.event)
            run.status = HandlerRun.Status.DONE
            run.attempts += 1
            run.last_error = ""
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "attempts", "last_error", "finished_at", "updated_at"])
        logger.info("event=%s handler=%s done", event_id, spec.name)
    except Exception as exc:
        retry_in = _record_failure(event_id, spec, exc)
        if retry_in is not None:
            raise task.retry(exc=exc, countdown=retry_in) from exc


def _lock_run(event_id: int, spec: HandlerSpec) -> HandlerRun | None:
    try:
        event = Event.objects.get(pk=event_id)
    except Event.DoesNotExist:
        # Nothing to apply and nothing to retry: a message outliving its database.
        logger.error("event=%s handler=%s: no such event; message dropped", event_id, spec.name)
        return None
    # The dispatcher creates the run before it publishes, but a fast worker may get the
    # message before that transaction commits: create-or-wait covers both orders.
    run, _ = HandlerRun.objects.select_for_update().get_or_create(
        event=event, handler=spec.name, defaults={"deadline": spec.deadline()}
    )
    run.event = event
    return run


def _record_failure(event_id: int, spec: HandlerSpec, exc: Exception) -> float | None:
    """Count the failed attempt in its own transaction; return the retry delay, or None
    when the run has used up its attempts and is now failed."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        run = HandlerRun.objects.select_for_update().filter(event_id=event_id, handler=spec.name).first()
        if run is None or run.status not in HandlerRun.OPEN:
            return None
        run.attempts += 1
        run.last_error = error
        if run.attempts >= spec.max_attempts:
            run.status = HandlerRun.Status.FAILED
            run.finished_at = timezone.now()
            retry_in = None
            logger.error("event=%s handler=%s failed after %s attempts: %s", event_id, spec.name, run.attempts, error)
        else:
            run.status = HandlerRun.Status.RETRYING
            retry_in = backoff(run.attempts)
            run.deadline = spec.deadline(delay=retry_in)
            logger.warning(
                "event=%s handler=%s attempt %s failed (%s); retry in %.1fs",
                event_id,
                spec.name,
                run.attempts,
                error,
                retry_in,
            )
        run.save(update_fields=["attempts", "last_error", "status", "finished_at", "deadline", "updated_at"])
    return retry_in
