"""Small helpers every app's ``admin.py`` uses.

The admin is a window on the shop, not a second way to write it: most models are
read-only there, and the changes staff may make go through the services (admin
actions, or ``save_model`` calling a service).
"""

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator


class _NoWrites:
    """Staff may look, not touch: no add, change or delete, for superusers too."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


class ReadOnlyAdmin(_NoWrites, admin.ModelAdmin):
    pass


class ReadOnlyTabularInline(_NoWrites, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


def admin_url(obj: models.Model) -> str | None:
    """The admin change page of ``obj``, or None if its model has no admin."""
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return None


def admin_link(obj: models.Model | None, text: str | None = None) -> str:
    """An escaped link to ``obj``'s admin page (plain escaped text if it has none)."""
    if obj is None:
        return "—"
    label = str(obj) if text is None else text
    url = admin_url(obj)
    if url is None:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


def linked(attribute: str, description: str | None = None):
    """A read-only admin field showing ``obj.<attribute>`` as a link to its admin page:
    ``order_link = linked("order")`` in a ModelAdmin, then name it in ``fields``."""

    @admin.display(description=description or attribute.replace("_", " "))
    def field(model_admin, obj):
        return admin_link(getattr(obj, attribute))

    return field


def short(text: str, length: int = 80) -> str:
    """The first line of ``text``, cut to ``length`` characters (escape when rendering)."""
    first_line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return Truncator(first_line).chars(length)
