"""The outbox as staff see it: every event, every handler run, and the four things
staff may do about them, each through ``events.services``: dispatch an event now,
retry a failed (dead-lettered) run, skip it for good, send an open run again."""

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from project.admin_helpers import ReadOnlyAdmin, ReadOnlyTabularInline, admin_link, short

from . import selectors, services
from .models import Event, HandlerRun

# A filter's choices: (value in the URL, label).
Lookups = Iterable[tuple[str, str]]


class DispatchedFilter(admin.SimpleListFilter):
    title = "dispatched"
    parameter_name = "dispatched"

    def lookups(self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]") -> Lookups:
        return (("yes", "dispatched"), ("no", "not dispatched"), ("failing", "not dispatched, with an error"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        if self.value() == "yes":
            return queryset.filter(dispatched_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(dispatched_at__isnull=True)
        if self.value() == "failing":
            return queryset.filter(dispatched_at__isnull=True).exclude(last_dispatch_error="")
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """How long ago a run finished (failed, for a dead letter) or, if open, started."""

    title = "age (since it finished or, if open, started)"
    parameter_name = "age"
    AGES = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}

    def lookups(self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]") -> Lookups:
        return (("hour", "last hour"), ("day", "last day"), ("week", "last week"), ("older", "older than a week"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[HandlerRun]) -> QuerySet[HandlerRun]:
        age = self.value()
        if age is None:
            return queryset
        since = timezone.now() - self.AGES.get(age, self.AGES["week"])
        recent = Q(finished_at__gte=since) | Q(finished_at=None, created_at__gte=since)
        return queryset.exclude(recent) if age == "older" else queryset.filter(recent)


class OverdueFilter(admin.SimpleListFilter):
    title = "deadline"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]") -> Lookups:
        return (("yes", "open and overdue"),)

    def queryset(self, request: HttpRequest, queryset: QuerySet[HandlerRun]) -> QuerySet[HandlerRun]:
        if self.value() == "yes":
            return queryset.filter(pk__in=selectors.open_runs_overdue(before=timezone.now()).values("pk"))
        return queryset


# Admin pages of the things event streams are about, registered by the app that owns
# them (orders: "order" -> its order change page), so this generic app names none.
_stream_pages: dict[str, str] = {}


def register_stream_page(stream: str, url_name: str) -> None:
    """Link the streams ``<stream>:<id>`` to the admin page ``url_name`` (args: the id)."""
    _stream_pages[stream] = url_name


def _stream_link(stream: str) -> str:
    """The stream, linked to the admin page of what it is about (an order's timeline)."""
    kind, _, pk = stream.partition(":")
    try:
        url = reverse(_stream_pages[kind], args=[pk]) if kind in _stream_pages and pk.isdigit() else None
    except NoReverseMatch:
        url = None
    return format_html('<a href="{}">{}</a>', url, stream) if url else stream


class HandlerRunInline(ReadOnlyTabularInline):
    model = HandlerRun
    fields = ("handler", "status", "attempts", "enqueued", "deadline", "finished_at", "error")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="last error")
    def error(self, run: HandlerRun) -> str:
        return short(run.last_error) or "—"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "stream_link", "occurred_at", "dispatched_at", "dispatch_attempts", "dispatch_error")
    list_filter = ("type", DispatchedFilter, ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("id__exact", "stream", "key__exact")
    date_hierarchy = "occurred_at"
    ordering = ("-id",)
    actions = ["dispatch_now"]
    inlines = [HandlerRunInline]
    fields = (
        "type",
        "stream_link",
        "key",
        "occurred_at",
        "dispatched_at",
        "dispatch_attempts",
        "last_dispatch_error",
        "next_dispatch_at",
        "payload_json",
    )
    readonly_fields = fields

    @admin.display(description="dispatch error")
    def dispatch_error(self, event: Event) -> str:
        return short(event.last_dispatch_error) or "—"

    @admin.display(description="stream", ordering="stream")
    def stream_link(self, event: Event) -> str:
        return _stream_link(event.stream)

    @admin.display(description="payload")
    def payload_json(self, event: Event) -> SafeString:
        # Private fields (a payment token) are not for staff's eyes either.
        shown = {k: ("•••" if k in event.event_type.private else v) for k, v in event.payload.items()}
        return format_html("<pre>{}</pre>", json.dumps(shown, indent=2, sort_keys=True, cls=DjangoJSONEncoder))

    def has_dispatch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.change_event")

    @admin.action(description="Dispatch now", permissions=["dispatch"])
    def dispatch_now(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        ids = list(queryset.filter(dispatched_at__isnull=True).order_by("id").values_list("id", flat=True))
        report = services.dispatch_events(ids)
        already = queryset.count() - len(ids)
        summary = f"Dispatched {report.dispatched} event(s); {already} already dispatched."
        _tell(self, request, summary, done=report.dispatched, failed=report.failed)


@admin.register(HandlerRun)
class HandlerRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "event_link", "handler", "status", "attempts", "enqueued", "deadline", "error")
    list_select_related = ("event",)
    list_filter = ("status", "handler", "event__type", AgeFilter, OverdueFilter)
    search_fields = ("handler", "event__stream", "event__id__exact")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    actions = ["retry_failed_runs", "skip_failed_runs", "resend_open_runs"]
    fields = (
        "event_link",
        "stream",
        "handler",
        "task_id",
        "status",
        "attempts",
        "enqueued",
        "resends",
        "deadline",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
        "last_duration",
        "last_error",
    )
    readonly_fields = fields

    @admin.display(description="event", ordering="event_id")
    def event_link(self, run: HandlerRun) -> str:
        return admin_link(run.event, f"#{run.event_id} {run.event.type}")

    @admin.display(description="stream")
    def stream(self, run: HandlerRun) -> str:
        return _stream_link(run.event.stream)

    @admin.display(description="last error")
    def error(self, run: HandlerRun) -> str:
        return short(run.last_error) or "—"

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.change_handlerrun")

    @admin.action(description="Retry failed runs", permissions=["retry"])
    def retry_failed_runs(self, request: HttpRequest, queryset: QuerySet[HandlerRun]) -> None:
        ids, skipped = _ids_with_status(queryset, HandlerRun.Status.FAILED)
        # A reopened run is due at once: if the broker refuses it now, the relay sends it.
        retried = sum(services.retry_failed(run_id) for run_id in ids)
        self.message_user(
            request,
            f"Retried {retried} failed run(s); skipped {skipped} not failed.",
            messages.SUCCESS if retried else messages.INFO,
        )

    @admin.action(description="Skip failed runs (give them up for good)", permissions=["retry"])
    def skip_failed_runs(self, request: HttpRequest, queryset: QuerySet[HandlerRun]) -> None:
        ids, left = _ids_with_status(queryset, HandlerRun.Status.FAILED)
        by = f"{request.user.get_username()} (admin)"
        skipped = sum(services.skip_failed(run_id, by=by, reason="given up in the admin") for run_id in ids)
        self.message_user(
            request,
            f"Skipped {skipped} failed run(s); left {left} not failed alone.",
            messages.SUCCESS if skipped else messages.INFO,
        )

    @admin.action(description="Re-send open runs now", permissions=["retry"])
    def resend_open_runs(self, request: HttpRequest, queryset: QuerySet[HandlerRun]) -> None:
        ids, skipped = _ids_with_status(queryset, *HandlerRun.OPEN)
        report = services.resend_now(ids)
        summary = f"Re-sent {report.resent} open run(s); skipped {skipped} done or failed."
        _tell(self, request, summary, done=report.resent, failed=report.failed)


def _ids_with_status(queryset: QuerySet[HandlerRun], *statuses: str) -> tuple[list[int], int]:
    """The selected runs in these statuses (ids, oldest first), and how many others
    the selection held, for an action that only applies to some."""
    ids = list(queryset.filter(status__in=statuses).order_by("id").values_list("id", flat=True))
    return ids, queryset.count() - len(ids)


def _tell(model_admin: "admin.ModelAdmin[Any]", request: HttpRequest, summary: str, *, done: int, failed: int) -> None:
    model_admin.message_user(request, summary, messages.SUCCESS if done else messages.INFO)
    if failed:
        model_admin.message_user(
            request, f"{failed} could not be sent (see the log); the relay goes on trying.", messages.ERROR
        )
