from django.db import models


class Kind(models.TextChoices):
    ORDER_CONFIRMED = "order_confirmed", "order confirmed"
    ORDER_CANCELLED = "order_cancelled", "order cancelled"
    SUPPORT_ANSWERED = "support_answered", "support question answered"
    SUPPORT_HANDED_OVER = "support_handed_over", "support question handed to staff"


class Notification(models.Model):
    """An in-app message for a customer."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField()
    source_event = models.UUIDField(help_text="Key of the event that caused it: one notification per event and kind.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source_event", "kind"], name="one_notification_per_event")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.customer}"


class EmailRecord(models.Model):
    """Every email we sent, with the Message-ID it carried."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    message_id = models.CharField(max_length=200, unique=True)
    source_event = models.UUIDField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source_event", "kind"], name="one_email_per_event")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to}"
