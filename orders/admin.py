import logging

from django.contrib import admin, messages
from django.template.loader import render_to_string

from events import selectors as event_selectors
from events.admin import register_stream_page
from payments import selectors as payment_selectors
from project.admin_helpers import ReadOnlyAdmin, ReadOnlyTabularInline, linked

from . import services
from .models import Order, OrderLine
from .signals import ORDER_STREAM, stream_of

logger = logging.getLogger(__name__)


class OrderLineInline(ReadOnlyTabularInline):
    model = OrderLine
    fields = ("sku", "name", "quantity", "unit_price", "line_total", "product_link")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    product_link = linked("product", "product now")


# An event's stream "order:42" links to order 42's page in the events admin.
register_stream_page(ORDER_STREAM, "admin:orders_order_change")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders are read-only here: their status moves only through the services
    (payment events, or the "Cancel selected orders" action)."""

    list_display = ("id", "customer", "status", "total", "currency", "created_at")
    list_display_links = ("id", "customer")
    list_select_related = ("customer__user",)
    list_filter = ("status", ("created_at", admin.DateFieldListFilter), "currency")
    search_fields = ("id__exact", "customer__user__username", "customer__user__email")
    date_hierarchy = "created_at"
    actions = ["cancel_orders"]
    inlines = [OrderLineInline]
    summary_fields = (
        "customer_link",
        "status",
        "total",
        "currency",
        "cancel_reason",
        "created_at",
        "paid_at",
        "cancelled_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": summary_fields}),
        ("Payment", {"fields": ("payment_summary",)}),
        ("Timeline", {"fields": ("timeline",), "description": "Every event of this order and who handled it."}),
    )
    readonly_fields = (*summary_fields, "payment_summary", "timeline")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer__user")

    # --- change page -------------------------------------------------------------------

    customer_link = linked("customer")

    @admin.display(description="payment")
    def payment_summary(self, order):
        return render_to_string("orders/admin/payment.html", {"payment": payment_selectors.payment_details(order.pk)})

    @admin.display(description="timeline")
    def timeline(self, order):
        return render_to_string(
            "orders/admin/timeline.html", {"entries": event_selectors.timeline_with_runs(stream_of(order.pk))}
        )

    # --- actions -----------------------------------------------------------------------

    def has_cancel_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Cancel selected orders", permissions=["cancel"])
    def cancel_orders(self, request, queryset):
        cancellable = (Order.Status.PENDING, Order.Status.PAID)
        cancelled, skipped, failed = 0, 0, []
        for order_id, status in queryset.order_by("pk").values_list("pk", "status"):
            if status not in cancellable:
                skipped += 1
                continue
            try:
                services.cancel_order(order_id=order_id, reason=Order.CancelReason.STAFF)
            except Exception as exc:
                logger.exception("admin: order=%s not cancelled", order_id)
                failed.append(f"#{order_id} ({type(exc).__name__}: {exc})")
            else:
                cancelled += 1
        self.message_user(
            request,
            f"Cancelled {cancelled} order(s); skipped {skipped} already cancelled.",
            messages.SUCCESS if cancelled else messages.INFO,
        )
        if failed:
            self.message_user(request, f"Could not cancel: {', '.join(failed)}", messages.ERROR)
