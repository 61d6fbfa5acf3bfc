"""Dead letters: staff's two answers to a handler run that failed for good."""

import logging
from functools import partial

from django.db import transaction
from django.utils import timezone

from ..models import HandlerRun
from .recovery import resend

logger = logging.getLogger("events.dead_letters")


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
