import logging
from collections import defaultdict

from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from events import selectors as event_selectors
from events.admin import register_stream_page
from project.admin_helpers import ReadOnlyAdmin, ReadOnlyTabularInline, admin_link, linked, short

from . import services
from .models import InvariantReport, Order, OrderLine
from .signals import ORDER_STREAM, stream_of

logger = logging.getLogger(__name__)

STATUS_COLOURS = {
    "done": "#2e7d32",
    "failed": "#c62828",
    "pending": "#ef6c00",
    "running": "#1565c0",
    "retrying": "#ef6c00",
    "skipped": "#757575",
}


def _when(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M:%S") if dt else "—"


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
        try:
            payment = order.payment  # payments.Payment, one per order
        except ObjectDoesNotExist:
            return "No payment yet."
        details = [
            ("status", payment.get_status_display()),
            ("amount", f"{payment.amount} {payment.currency}"),
            ("gateway", payment.gateway),
            ("charge", payment.charge_id or "—"),
            ("refund", payment.refund_id or "—"),
            ("failure", payment.failure_reason or "—"),
            ("updated", _when(payment.updated_at)),
        ]
        return format_html(
            "<table><tbody>{}</tbody></table><p>{}</p>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", details),
            admin_link(payment, "Open the payment"),
        )

    @admin.display(description="timeline")
    def timeline(self, order):
        stream = stream_of(order.pk)
        events = list(event_selectors.timeline(stream))
        if not events:
            return "No events recorded."
        runs = defaultdict(list)
        for run in event_selectors.runs_of(stream):
            runs[run.event_id].append(run)
        rows = []
        for event in events:
            event_runs = runs.get(event.pk) or [None]
            for i, run in enumerate(event_runs):
                event_cells = (
                    format_html(
                        '<td rowspan="{0}">{1}</td><td rowspan="{0}">{2}</td><td rowspan="{0}">{3}</td>',
                        len(event_runs),
                        _when(event.occurred_at),
                        admin_link(event, f"#{event.pk} {event.type}"),
                        self._dispatch_state(event),
                    )
                    if i == 0
                    else ""
                )
                rows.append(format_html("<tr>{}{}</tr>", event_cells, self._run_cells(run)))
        return format_html(
            '<table class="orderflow-timeline"><thead><tr>'
            "<th>occurred</th><th>event</th><th>dispatched</th><th>handler</th><th>status</th>"
            "<th>attempts</th><th>sent</th><th>last error</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "{}", ((row,) for row in rows)),
        )

    @staticmethod
    def _dispatch_state(event):
        if event.dispatched_at:
            return _when(event.dispatched_at)
        return format_html(
            '<span title="{}">not yet ({} attempts)</span>', event.last_dispatch_error, event.dispatch_attempts
        )

    @staticmethod
    def _run_cells(run):
        if run is None:
            return format_html('<td colspan="5">{}</td>', "no handler runs")
        return format_html(
            '<td>{}</td><td><strong style="color: {}">{}</strong></td><td>{}</td><td>{}</td><td title="{}">{}</td>',
            admin_link(run, run.handler),
            STATUS_COLOURS.get(run.status, "inherit"),
            run.status,
            run.attempts,
            run.enqueued,
            run.last_error,
            short(run.last_error) or "—",
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


@admin.register(InvariantReport)
class InvariantReportAdmin(ReadOnlyAdmin):
    """What the periodic invariant check found (``orders.check_invariants``); written
    by the check only."""

    list_display = ("ran_at", "ok", "finding_count", "since")
    list_filter = ("ok", ("ran_at", admin.DateFieldListFilter))
    date_hierarchy = "ran_at"
    fields = ("ran_at", "ok", "since", "findings_table")
    readonly_fields = fields

    @admin.display(description="findings")
    def finding_count(self, obj):
        return len(obj.findings)

    @admin.display(description="findings")
    def findings_table(self, obj):
        if not obj.findings:
            return "Every invariant held."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f["invariant"], f["subject"], f["detail"]) for f in obj.findings),
        )
        return format_html("<table><tr><th>invariant</th><th>subject</th><th>detail</th></tr>{}</table>", rows)
