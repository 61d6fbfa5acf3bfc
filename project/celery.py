"""The Celery application: configured from Django settings (``CELERY_*``)."""

import os
import time

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("orderflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# When this worker process last finished a task (time.monotonic()).
_last_task_done = 0.0
# A connection used this recently is taken to be alive: its check is skipped.
RECENTLY = 1.0


@signals.task_prerun.connect
def fresh_database_connections(task=None, **kwargs) -> None:
    """What Django does at every request: drop a connection past CONN_MAX_AGE, and
    check the kept one before its first query (CONN_HEALTH_CHECKS), so a database
    restart costs no task. Only after an idle second or an error, though: a connection
    that served the task before this one a moment ago is alive, and the check is a
    round trip, a tenth of a short task's. Not for a task run in its caller's process
    (``apply``, eager mode): that is the caller's connection, maybe in its transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections, connections

    failed = any(conn.errors_occurred for conn in connections.all(initialized_only=True))
    if failed or time.monotonic() - _last_task_done > RECENTLY:
        close_old_connections()


@signals.task_postrun.connect
def remember_task_done(**kwargs) -> None:
    global _last_task_done
    _last_task_done = time.monotonic()


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
