"""The outbox and the record of who handled what.

An ``Event`` is written in the same transaction as the change it announces, so an
event exists if and only if its change committed. A ``HandlerRun`` is one receiver's
work on one event; its row is the idempotency record (unique per event and handler)
and the dead-letter entry when the handler gives up (``failed``), until staff retry it
or skip it (``skipped``: a decision, recorded with who and why in ``last_error``).
"""

import uuid
from functools import cached_property

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from . import types


class Event(models.Model):
    key = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="Idempotency key for calls that leave the system."
    )
    type = models.CharField(max_length=100)
    version = models.PositiveSmallIntegerField(
        default=1, help_text="The version of the type's payload it was written with."
    )
    stream = models.CharField(max_length=100, db_index=True, help_text='What the event is about, e.g. "order:42".')
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)
    last_dispatch_error = models.TextField(blank=True)
    next_dispatch_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="After a dispatch error that is the event's own (not the broker's): the relay waits until then.",
    )

    # Not a column: set by the handler machinery on the event it hands a handler (which
    # attempt of the run this is, from 1), so the last one may end the work differently.
    attempt: int | None = None

    class Meta:
        ordering = ["id"]
        indexes = [
            # The dispatcher's queue: only undispatched rows, so it stays small however
            # many events are kept.
            models.Index(
                fields=["id"], name="events_undispatched_id_idx", condition=models.Q(dispatched_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type} ({self.stream})"

    @property
    def event_type(self) -> "types.EventType[types.Payload]":
        return types.get(self.type)

    @cached_property
    def data(self) -> "types.Payload":
        """The payload, typed (and upcast to the type's current version)."""
        return self.event_type.load(self.payload, version=self.version)

    @property
    def public_payload(self) -> types.JSONObject:
        return self.event_type.public(self.payload)


class HandlerRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        RETRYING = "retrying", "retrying"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped (staff gave it up)"

    OPEN = (Status.PENDING, Status.RUNNING, Status.RETRYING)
    # Finished for good: the run's event may be pruned once it is old enough. A failed
    # run is not among them: it waits for staff to retry or skip it.
    SETTLED = (Status.DONE, Status.SKIPPED)

    # No index of its own: the unique (event, handler) constraint's index serves it.
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="runs", db_index=False)
    handler = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    enqueued = models.PositiveIntegerField(default=0, help_text="How many times the task was sent to the broker.")
    resends = models.PositiveIntegerField(
        default=0, help_text="Sends after the first since it was (re)started; bounded by EVENTS_MAX_RESENDS."
    )
    last_error = models.TextField(blank=True)
    deadline = models.DateTimeField(help_text="If not done by then, the relay sends it again.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the last attempt started.")
    finished_at = models.DateTimeField(null=True, blank=True)
    last_duration = models.FloatField(
        null=True, blank=True, help_text="Seconds the last attempt took (the successful one, once done)."
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="one_run_per_event_and_handler")]
        indexes = [
            # Partial, so they hold only the few runs the relay and staff look for, not
            # the millions that are done: the open ones by deadline, the dead letters.
            models.Index(
                fields=["deadline"],
                name="events_run_open_deadline_idx",
                condition=models.Q(status__in=["pending", "running", "retrying"]),
            ),
            models.Index(fields=["id"], name="events_run_failed_idx", condition=models.Q(status="failed")),
        ]

    def __str__(self) -> str:
        return f"{self.handler} on event #{self.event_id}: {self.status}"

    def dead_letter(self, error: str, *, also: tuple[str, ...] = ()) -> None:
        """End the run ``failed`` with ``error`` (the dead letter: seen by staff, never
        sent again until retried), saving it with the fields named in ``also``."""
        self.status = self.Status.FAILED
        self.last_error = error[:4000]
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "last_error", "finished_at", "updated_at", *also])

    @property
    def task_id(self) -> str:
        return task_id_for(self.event_id, self.handler)


class PrunedTally(models.Model):
    """Sums of what retention deleted, so that counters read from the rows (/metrics:
    events recorded and dispatched, the handler duration histogram) never go down."""

    counter = models.CharField(max_length=100, help_text="e.g. events_recorded, duration_count, duration_le_0.5")
    label = models.CharField(max_length=200, help_text="The event type or the handler.")
    value = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["counter", "label"], name="one_tally_per_counter_and_label")]

    def __str__(self) -> str:
        return f"{self.counter}[{self.label}] = {self.value:g}"


def task_id_for(event_id: int, handler: str) -> str:
    """Deterministic, so a task seen in the broker or a log names its run."""
    return f"{event_id}:{handler}"
