from django.contrib import admin

from project.admin_helpers import ReadOnlyAdmin, linked

from .models import EmailRecord, Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "customer", "kind", "order", "title", "read_at")
    list_select_related = ("customer__user", "order")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter), ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("customer__user__username", "order__id__exact", "title")
    date_hierarchy = "created_at"
    fields = ("customer_link", "kind", "order_link", "title", "body", "source_event", "created_at", "read_at")
    readonly_fields = fields

    customer_link = linked("customer")
    order_link = linked("order")


@admin.register(EmailRecord)
class EmailRecordAdmin(ReadOnlyAdmin):
    list_display = ("sent_at", "to", "kind", "subject", "order", "message_id")
    list_select_related = ("order",)
    list_filter = ("kind", ("sent_at", admin.DateFieldListFilter))
    search_fields = ("to", "subject", "message_id", "order__id__exact", "customer__user__username")
    date_hierarchy = "sent_at"
    fields = ("customer_link", "kind", "order_link", "to", "subject", "message_id", "source_event", "sent_at")
    readonly_fields = fields

    customer_link = linked("customer")
    order_link = linked("order")
