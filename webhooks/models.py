"""Outbound webhooks: the endpoints staff register, one delivery per (event, endpoint),
and one log row per attempt.

A ``Delivery`` carries its own schedule (``next_attempt_at``) on its row, so that one
endpoint that is down holds none of another's deliveries, and a retry three days out
waits in the database, not in the broker. ``lease_until`` is the lease of an attempt in
progress (one attempt at a time); ``queued_until`` says a message for it is on its way
(the sweep does not send another before then).
"""

from django.db import models
from django.utils import timezone


class Endpoint(models.Model):
    url = models.CharField(max_length=2000, help_text="Checked by webhooks.targets.")
    event_types = models.JSONField(default=list, help_text="The public event types it receives.")
    description = models.CharField(max_length=500, blank=True)
    secret = models.CharField(max_length=100, help_text="whsec_ + base64 of 32 random bytes.")
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_until = models.DateTimeField(
        null=True, blank=True, help_text="The previous secret signs too (beside the new one) until then."
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.url}"

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets that sign now: the current one, and during a rotation's overlap
        the previous one."""
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > now:
            secrets.append(self.previous_secret)
        return secrets


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed (gave up)"
        CANCELLED = "cancelled", "cancelled (endpoint disabled)"

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+", db_index=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    schedule_offset = models.PositiveIntegerField(
        default=0, help_text="Attempts made before staff's last re-send: the schedule starts over after them."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When pending: the next attempt is due.")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="An attempt is in progress until then.")
    lease_token = models.CharField(max_length=32, blank=True)
    queued_until = models.DateTimeField(
        null=True, blank=True, help_text="A message for its next attempt is on its way; the sweep waits until then."
    )
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # The fan-out's idempotency: a redelivered event creates no second delivery.
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_event_and_endpoint")
        ]
        indexes = [
            # The sweep's queue: only the pending rows, however many were delivered.
            models.Index(
                fields=["next_attempt_at"],
                name="webhooks_pending_due_idx",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.event_id} to endpoint #{self.endpoint_id}: {self.status}"


class Attempt(models.Model):
    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "delivered (2xx)"
        REJECTED = "rejected", "answered with another status"
        ERROR = "error", "no answer (connection, timeout)"
        REFUSED = "refused", "refused (unsafe target)"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True, help_text="The first kilobyte of the answer's body.")
    webhook_timestamp = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery #{self.delivery_id}: {self.outcome} {self.status_code or ''}"
