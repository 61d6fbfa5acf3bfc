from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Checks across every domain (the invariant checker). It may read every app's
    selectors; no app depends on it, so it closes no import cycle."""

    name = "audit"
    verbose_name = "Audit"
