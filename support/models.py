from django.db import models


class Question(models.Model):
    """A customer's question to the support desk, and how it was answered."""

    class Status(models.TextChoices):
        ASKED = "asked", "asked"
        ANSWERED = "answered", "answered"
        HANDED_TO_STAFF = "handed_to_staff", "handed to staff"
        FAILED = "failed", "failed (closed unanswered)"

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="support_questions")
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    question = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ASKED)
    answer = models.TextField(blank=True)
    handoff_reason = models.CharField(max_length=200, blank=True, help_text="Why staff must answer it.")
    prompt = models.TextField(blank=True, help_text="What was sent to the model (system and user messages).")
    provider = models.CharField(max_length=30, blank=True, help_text="The model provider that was asked.")
    model = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    answered_by = models.CharField(max_length=150, blank=True, help_text="The staff member who answered by hand.")
    called_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When the model answered (its tokens count that day)."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="support_q_status_created_idx")]

    def __str__(self) -> str:
        return f"question #{self.pk} ({self.status})"
