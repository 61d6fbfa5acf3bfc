import uuid

from django.db import models

from .signals import CancelReason


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        PAID = "paid", "paid"
        CANCELLED = "cancelled", "cancelled"

    CancelReason = CancelReason

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    cancel_reason = models.CharField(max_length=40, blank=True, choices=CancelReason.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Kept when the status moves on (a paid order cancelled keeps paid_at): what
    # happened to orders is counted from these (the /metrics counters).
    # Indexed for the admin's figures (orders paid / cancelled today, per hour).
    paid_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    charge_key = models.UUIDField(
        default=uuid.uuid4,
        editable=False,
        help_text="The idempotency key of the order's one charge at the payment gateway. Its order.placed "
        "event is recorded under the same key, so the charge handler has it in hand.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_not_negative")]

    def __str__(self) -> str:
        return f"Order #{self.pk} ({self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    # Copied from the catalog when ordered: the order keeps what the customer was charged.
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="one_line_per_product"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` and the answer it got, stored with the order."""

    scope = models.CharField(max_length=100, help_text="Whose key: keys of two customers never collide.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request the key was first used with.")
    response_status = models.PositiveSmallIntegerField()
    # Text, not JSON: the answer is replayed byte for byte, keys in their first order.
    response_body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="one_answer_per_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.scope})"
