"""The Celery application: configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("orderflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
def refuse_unsafe_broker_settings(sender=None, **kwargs) -> None:
    """A worker does not start on broker settings that would deliver messages twice
    (``events.checks``); it exits at once with the reason instead."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from events.checks import broker_settings_problems

    problems = broker_settings_problems(app.conf.broker_url, app.conf.broker_transport_options)
    if problems:
        # SystemExit, not an exception: Celery logs and ignores a signal handler's errors.
        raise SystemExit("Orderflow worker refuses to start:\n" + "\n".join(f"  - {p}" for p in problems))
