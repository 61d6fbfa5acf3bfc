"""Template context for the admin: the banner's alerts on every admin page, the
dashboard on the front page. Both lazy: computed only when a template shows them, and
only for staff (the login page is an admin page too)."""

from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from . import attention, figures


def admin(request) -> dict:
    if not request.path.startswith(reverse("admin:index")):
        return {}
    staff = getattr(request, "user", None) is not None and request.user.is_active and request.user.is_staff
    return {
        "orderflow_alerts": SimpleLazyObject(lambda: attention.alerts() if staff else []),
        "orderflow_dashboard": SimpleLazyObject(lambda: figures.dashboard() if staff else None),
    }
