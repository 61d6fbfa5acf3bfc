"""When a delivery's next attempt is due: Standard Webhooks' retry schedule with jitter,
or what the receiver asked for in ``Retry-After``."""

import random
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.utils import timezone

# Answers that say "later": their Retry-After is honoured (within WEBHOOKS_RETRY_AFTER_MAX).
RETRY_AFTER_STATUSES = {429, 502, 503, 504}


def max_attempts() -> int:
    return len(settings.WEBHOOKS_RETRY_SCHEDULE)


def delay_before(attempt: int) -> float | None:
    """Seconds before attempt number ``attempt`` (1-based; the first is immediate) after
    the one before it failed, with +-10 % jitter so that deliveries failing together do
    not retry together; None once the schedule is used up."""
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    if attempt > len(schedule):
        return None
    return schedule[attempt - 1] * random.uniform(0.9, 1.1)


def retry_after(value: str | None, now=None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date), bounded to
    [0, WEBHOOKS_RETRY_AFTER_MAX]; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or timezone.now())).total_seconds()
    return min(max(seconds, 0.0), settings.WEBHOOKS_RETRY_AFTER_MAX)
