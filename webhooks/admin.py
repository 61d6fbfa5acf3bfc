"""Webhooks in the admin: staff register endpoints (their changes go through the
services: the URL is checked, disabling cancels pending deliveries), watch each
delivery's attempts (status, latency, the answer's first kilobyte) and re-send one."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from events.public import PUBLIC_EVENT_TYPES
from project.admin_helpers import ReadOnlyAdmin, ReadOnlyTabularInline, linked

from . import services
from .models import Attempt, Delivery, Endpoint


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in sorted(PUBLIC_EVENT_TYPES)], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Endpoint
        fields = ("url", "event_types", "description", "enabled")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # The services' checks, here too, so that a bad URL is a form error, not a 500.
        if data.get("url"):
            try:
                services._check_url(data["url"])
            except services.InvalidEndpoint as exc:
                self.add_error("url", str(exc))
        return data


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("id", "url", "types", "enabled", "disabled_reason", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    actions = ["enable", "disable", "rotate_secret"]
    readonly_fields = ("secret_shown", "previous_secret_until", "disabled_reason", "created_at", "updated_at")

    @admin.display(description="event types")
    def types(self, obj):
        return ", ".join(obj.event_types)

    @admin.display(description="secret")
    def secret_shown(self, obj):
        return format_html("<code>{}</code>", obj.secret) if obj.pk else "made when saved"

    def get_fields(self, request, obj=None):
        # Staff configure the receiver from here: only those who may change endpoints
        # see its secret, not everyone who may look at them.
        fields = list(super().get_fields(request, obj))
        if not self.has_change_permission(request, obj):
            fields = [f for f in fields if f != "secret_shown"]
        return fields

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in ("url", "event_types", "description", "enabled")}
        if change:
            saved = services.update_endpoint(endpoint=Endpoint.objects.get(pk=obj.pk), **data)
        else:
            enabled = data.pop("enabled")
            saved = services.register_endpoint(**data)
            if not enabled:
                saved = services.update_endpoint(endpoint=saved, enabled=False)
        obj.pk = saved.pk
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in Endpoint._meta.concrete_fields})

    def delete_model(self, request, obj):
        services.delete_endpoint(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.delete_endpoint(endpoint=endpoint)

    @admin.action(description="Enable the selected endpoints")
    def enable(self, request, queryset):
        for endpoint in queryset:
            services.update_endpoint(endpoint=endpoint, enabled=True)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).")

    @admin.action(description="Disable the selected endpoints (their pending deliveries are cancelled)")
    def disable(self, request, queryset):
        for endpoint in queryset:
            services.update_endpoint(endpoint=endpoint, enabled=False)
        self.message_user(request, f"Disabled {queryset.count()} endpoint(s).")

    @admin.action(description="Rotate the secret (the old one keeps signing for WEBHOOK_SECRET_OVERLAP)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            services.rotate_secret(endpoint=endpoint)
        self.message_user(request, f"Rotated the secret of {queryset.count()} endpoint(s): see each endpoint's page.")


class AttemptInline(ReadOnlyTabularInline):
    model = Attempt
    fields = ("number", "created_at", "outcome", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "event_type", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at")
    list_select_related = ("endpoint",)
    list_filter = ("status", "event_type", "endpoint")
    search_fields = ("event__key", "endpoint__url")
    actions = ["resend_now"]
    inlines = [AttemptInline]
    fields = (
        "event_link",
        "webhook_id",
        "endpoint_link",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
    )
    readonly_fields = fields

    event_link = linked("event")
    endpoint_link = linked("endpoint")

    @admin.display(description="webhook-id")
    def webhook_id(self, obj):
        return str(obj.event.key)

    @admin.action(description="Re-send now (same webhook-id)")
    def resend_now(self, request, queryset):
        for delivery in queryset:
            services.resend(delivery=delivery)
        self.message_user(request, f"Re-sending {queryset.count()} delivery(ies).", messages.SUCCESS)
