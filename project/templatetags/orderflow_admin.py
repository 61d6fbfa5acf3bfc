"""Template helpers of the admin pages Orderflow renders from templates."""

from django import template
from django.utils import timezone

from project.admin_helpers import admin_url as _admin_url
from project.admin_helpers import short as _short

register = template.Library()


@register.filter
def admin_url(obj) -> str | None:
    """``{{ obj|admin_url }}``: its admin change page, or None if its model has none."""
    return _admin_url(obj) if obj is not None else None


@register.filter
def when(dt) -> str:
    """A moment as the admin pages show it, in the site's time zone, to the second."""
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M:%S") if dt else "—"


@register.filter
def first_line(text: str, length: int = 80) -> str:
    """The first line of ``text``, cut to ``length`` characters."""
    return _short(text, length)
