from django.conf import settings
from django.db import models


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.user.get_username()


class PointsEntry(models.Model):
    """One line of the loyalty ledger; the balance is their sum."""

    class Reason(models.TextChoices):
        ORDER_PAID = "order_paid", "order paid"
        ORDER_CANCELLED = "order_cancelled", "order cancelled"
        ADJUSTMENT = "adjustment", "adjustment by staff"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="points")
    amount = models.BigIntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "points entries"
        constraints = [
            # Second line of defence behind handler idempotency: one award and one
            # reversal per order, whatever happens to the messages.
            models.UniqueConstraint(
                fields=["order", "reason"],
                condition=models.Q(order__isnull=False),
                name="one_points_entry_per_order_and_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} for {self.customer} ({self.reason})"
