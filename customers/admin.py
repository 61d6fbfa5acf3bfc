from django.contrib import admin
from django.db.models import Sum
from django.db.models.functions import Coalesce

from project.admin_helpers import ReadOnlyAdmin, ReadOnlyTabularInline, linked

from .models import Customer, PointsEntry


class PointsEntryInline(ReadOnlyTabularInline):
    model = PointsEntry
    fields = ("created_at", "amount", "reason", "order_link", "note")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    verbose_name_plural = "points ledger"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    order_link = linked("order")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Profiles are created with the account (``users.services.register_user``)."""

    list_display = ("username", "email", "points_balance", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = ("user_link", "email", "points_balance", "created_at")
    readonly_fields = fields
    inlines = [PointsEntryInline]

    def get_queryset(self, request):
        # The balance is the ledger's sum: one aggregate, not a query per row.
        return super().get_queryset(request).annotate(_points_balance=Coalesce(Sum("points__amount"), 0))

    @admin.display(description="username", ordering="user__username")
    def username(self, customer):
        return customer.user.get_username()

    @admin.display(description="email", ordering="user__email")
    def email(self, customer):
        return customer.user.email

    user_link = linked("user")

    @admin.display(description="points balance", ordering="_points_balance")
    def points_balance(self, customer):
        return customer._points_balance


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "customer", "amount", "reason", "order", "note")
    list_select_related = ("customer__user", "order")
    list_filter = ("reason", ("created_at", admin.DateFieldListFilter))
    search_fields = ("customer__user__username", "order__id__exact", "note")
    date_hierarchy = "created_at"
    fields = ("customer_link", "amount", "reason", "order_link", "note", "created_at")
    readonly_fields = fields

    customer_link = linked("customer")
    order_link = linked("order")
