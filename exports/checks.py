"""The sinks' settings, checked at start (``manage.py check``, and every process's
start) and named in the log, so an operator sees where events go."""

import logging
from urllib.parse import urlsplit

from celery import signals
from django.conf import settings
from django.core import checks

from . import sinks

logger = logging.getLogger("exports")

SCHEMES = {"redis": ("redis", "rediss", "unix"), "nats": ("nats", "tls", "ws", "wss")}


def settings_problems() -> list[str]:
    problems = []
    for name, schemes in SCHEMES.items():
        url = getattr(settings, sinks.SETTINGS[name])
        if url and urlsplit(url).scheme not in schemes:
            problems.append(f"{sinks.SETTINGS[name]}={url!r}: expected a URL starting with {' or '.join(schemes)}://")
    prefix = settings.EVENTS_EXPORT_PREFIX
    if not prefix or any(c in prefix for c in " *>"):
        problems.append(f"EVENTS_EXPORT_PREFIX={prefix!r}: a non-empty name without ' ', '*' or '>'")
    if settings.EVENTS_EXPORT_MAX_ATTEMPTS < 1:
        problems.append("EVENTS_EXPORT_MAX_ATTEMPTS must be at least 1")
    horizon = settings.EVENTS_EXPORT_MAX_ATTEMPTS * settings.EVENTS_RETRY_BACKOFF_MAX
    if settings.EVENTS_EXPORT_NATS_URL and horizon > settings.EVENTS_EXPORT_NATS_DUPLICATE_WINDOW:
        problems.append(
            f"EVENTS_EXPORT_NATS_DUPLICATE_WINDOW ({settings.EVENTS_EXPORT_NATS_DUPLICATE_WINDOW:g} s) is shorter "
            f"than an export run may go on retrying ({horizon:g} s: EVENTS_EXPORT_MAX_ATTEMPTS x "
            "EVENTS_RETRY_BACKOFF_MAX): a retried publish JetStream had kept would be stored twice"
        )
    return problems


@checks.register()
def check_export_settings(app_configs=None, **kwargs) -> list[checks.Error]:
    return [checks.Error(problem, id="exports.E001") for problem in settings_problems()]


def describe() -> str:
    """One line naming the enabled sinks and where they write (no credentials)."""
    where = {
        "redis": lambda: _address(settings.EVENTS_EXPORT_REDIS_URL),
        "nats": lambda: f"{_address(settings.EVENTS_EXPORT_NATS_URL)} stream {settings.EVENTS_EXPORT_NATS_STREAM}",
        "kafka": lambda: settings.EVENTS_EXPORT_KAFKA_BOOTSTRAP,
    }
    enabled = sinks.enabled()
    if not enabled:
        return "exports: no stream sink enabled"
    return "exports: public events exported to " + ", ".join(f"{name} ({where[name]()})" for name in enabled)


def _address(url: str) -> str:
    parts = urlsplit(url)
    # No user or password: the line goes to logs.
    return f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path}" if parts.hostname else f"{parts.scheme}://"


@signals.worker_ready.connect(dispatch_uid="exports.log_sinks")
def log_enabled_sinks(**kwargs) -> None:
    logger.info(describe())


@signals.worker_process_shutdown.connect(dispatch_uid="exports.close_sinks")
def close_sinks(**kwargs) -> None:
    sinks.close_all()
