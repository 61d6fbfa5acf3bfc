"""Start-up check: event retention must outlast every webhook delivery's schedule.

Retention deletes an event with its deliveries and their attempt log once its handler
runs are settled, and the fan-out run is done as soon as the deliveries exist: a
delivery still pending when its event goes would vanish without a trace."""

from django.conf import settings
from django.core import checks


def longest_delivery_seconds() -> float:
    """The longest a delivery may stay pending: its schedule, each attempt put off as
    long as a receiver's Retry-After may put it."""
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    return float(sum(schedule)) * 1.1 + len(schedule) * float(settings.WEBHOOKS_RETRY_AFTER_MAX)


@checks.register()
def check_retention_outlasts_deliveries(app_configs: object = None, **kwargs: object) -> list[checks.Error]:
    retention = float(settings.EVENTS_RETENTION_DAYS) * 86400
    longest = longest_delivery_seconds()
    if retention > longest:
        return []
    return [
        checks.Error(
            f"EVENTS_RETENTION_DAYS ({settings.EVENTS_RETENTION_DAYS:g}) would delete events whose webhook deliveries "
            f"may still be pending (up to {longest / 86400:.1f} days: WEBHOOKS_RETRY_SCHEDULE, each attempt put off "
            "by at most WEBHOOKS_RETRY_AFTER_MAX): keep events longer, or shorten the schedule",
            id="webhooks.E001",
        )
    ]
