"""Putting a handler run's task on the broker: shared by the dispatcher and the relay."""

from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from project.faults import publish_copies

from ..models import HandlerRun, task_id_for

# What a publish raises when the broker cannot be reached.
BROKER_ERRORS = (BrokerOperationalError, ConnectionError, OSError)


def publish(task, event_id: int, *, producer=None) -> None:
    """Send the run's task. Its id is deterministic, ``<event id>:<handler>``, so the
    broker, the logs and the admin name the same run."""
    # More than once only in fault tests: every message delivered twice (project/faults.py).
    for _ in range(publish_copies()):
        task.apply_async(
            args=[event_id], task_id=task_id_for(event_id, task.name), queue=task.spec.queue, producer=producer
        )


def reopen(run: HandlerRun, spec) -> None:
    """Count one more send of an open run and set when the relay may send it again:
    one lease after a first send, and each re-send in a row waits twice as long as the
    last (up to 32 leases), so runs stuck behind a backlog, or on a queue nobody
    consumes, do not pile up copies every pass. The doubling counts ``resends``, which
    starts over when a worker takes the run or staff retry it, so a run that was
    handled once and lost again later is re-sent within a lease, not after the longest
    wait."""
    run.enqueued += 1
    run.deadline = timezone.now() + spec.lease * 2 ** min(run.resends, 5)
    run.save(update_fields=["status", "deadline", "enqueued", "resends", "updated_at"])
