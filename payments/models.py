from django.db import models


class Payment(models.Model):
    """The one payment of an order. Its row lock serialises charging and cancelling."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        CAPTURED = "captured", "captured"
        FAILED = "failed", "failed"
        REFUNDED = "refunded", "refunded"
        VOIDED = "voided", "voided (order cancelled before it was charged)"

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="payment")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    gateway = models.CharField(max_length=50)
    charge_key = models.CharField(
        max_length=100,
        help_text="Idempotency key of the order's one charge at the gateway (the order's charge key).",
    )
    charge_id = models.CharField(max_length=100, blank=True)
    refund_id = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Payment for order #{self.order_id}: {self.status}"
