"""Start-up checks of the broker settings the events machinery relies on.

Redis has no acknowledgements of its own: a message a worker took and has not
acknowledged is handed out again once the transport's ``visibility_timeout`` has
passed. A retry waiting out its countdown, or a handler still running, holds its
message unacknowledged that long, so a visibility timeout shorter than the longest
hold delivers the message a second time while the first copy is alive (the run
guard keeps the effect single, but every such message is worked twice and the
retry schedule is cut short). These settings are refused where they would bite:
``manage.py check`` (a Django system check) and the worker's start (``celeryd_init``
in ``project.celery``), which exits with the same message.
"""

from collections.abc import Sequence
from typing import Any

from celery import current_app
from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from .handlers import handler_specs

REDIS_SCHEMES = ("redis://", "rediss://", "sentinel://")
KOMBU_DEFAULT_VISIBILITY_TIMEOUT = 3600.0


def longest_unacked_hold() -> tuple[float, str]:
    """The longest a task message may stay delivered and unacknowledged, and why."""
    holds = [(float(settings.EVENTS_RETRY_BACKOFF_MAX), "the longest retry countdown (EVENTS_RETRY_BACKOFF_MAX)")]
    holds += [(spec.hard_time_limit, f"the hard time limit of {spec.name}") for spec in handler_specs()]
    return max(holds)


def broker_settings_problems(
    broker_url: str | None = None, transport_options: dict[str, Any] | None = None
) -> list[str]:
    """What is wrong with the broker settings (the Celery app's own by default); empty
    if nothing is."""
    conf = current_app.conf
    broker_url = conf.broker_url if broker_url is None else broker_url
    transport_options = conf.broker_transport_options if transport_options is None else transport_options
    if not (broker_url or "").startswith(REDIS_SCHEMES):
        return []
    visibility = float((transport_options or {}).get("visibility_timeout", KOMBU_DEFAULT_VISIBILITY_TIMEOUT))
    hold, why = longest_unacked_hold()
    if visibility > hold:
        return []
    return [
        f"The Redis broker's visibility_timeout ({visibility:g} s) is not above {why} ({hold:g} s): Redis "
        "would deliver such a message again while its first copy is still waiting or running. Set "
        f"CELERY_BROKER_VISIBILITY_TIMEOUT above {hold:g} s, or lower the retry backoff or handler timeouts."
    ]


@checks.register("celery")
def check_broker_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[checks.Error]:
    return [checks.Error(problem, id="events.E001") for problem in broker_settings_problems()]


@checks.register()
def check_public_event_types(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[checks.Error]:
    from . import public, types

    declared = {event_type.name for event_type in types.all_types()}
    return [
        checks.Error(f"events.public names {name!r}, which no app declares as an event type", id="events.E002")
        for name in public.PUBLIC_EVENT_TYPES
        if name not in declared
    ]
