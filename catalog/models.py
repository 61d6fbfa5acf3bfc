from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

SKU_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
sku_validator = RegexValidator(rf"^{SKU_PATTERN}\Z", "Letters, digits, '.', '_' or '-'; at most 64.")
CURRENCY_PATTERN = r"^[A-Za-z]{3}\Z"  # an ISO 4217 code, in either case (stored upper-case)
currency_validator = RegexValidator(CURRENCY_PATTERN, "Three letters, e.g. EUR.")


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True, validators=[sku_validator])
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(
        max_length=3, default=settings.DEFAULT_CURRENCY, validators=[currency_validator], help_text="e.g. EUR"
    )
    stock = models.PositiveIntegerField(default=0, help_text="Units on hand, not reserved by any live order.")
    received = models.BigIntegerField(
        default=0,
        help_text="Units ever put into stock by staff (initial stock, restocks, less write-offs): "
        "always on hand + reserved by pending orders + sold to paid orders.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive products are hidden and cannot be ordered.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(Lower("sku"), name="product_sku_unique_ci"),
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="product_stock_not_negative"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"


class StockRelease(models.Model):
    """Units an order handed back when it was cancelled: the catalog's proof that the
    release happened, one row per order and product (so it can happen only once)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, help_text='Who gave them back, e.g. "order:42".')
    quantity = models.PositiveIntegerField()
    released_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["reference", "product"], name="one_release_per_reference")]

    def __str__(self) -> str:
        return f"{self.quantity} x product #{self.product_id} back from {self.reference}"
