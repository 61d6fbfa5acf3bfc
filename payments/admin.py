from django.contrib import admin

from project.admin_helpers import ReadOnlyAdmin, linked

from .models import Payment


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Payments change only through their events (charge, refund, void)."""

    list_display = ("id", "order", "status", "amount", "currency", "gateway", "charge_id", "created_at")
    list_select_related = ("order",)
    list_filter = ("status", "gateway", "currency", ("created_at", admin.DateFieldListFilter))
    search_fields = ("order__id__exact", "charge_id", "refund_id")
    date_hierarchy = "created_at"
    fields = (
        "order_link",
        "status",
        "amount",
        "currency",
        "gateway",
        "charge_id",
        "refund_id",
        "failure_reason",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    order_link = linked("order")
