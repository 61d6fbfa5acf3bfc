"""Durations as operators type them on a command line: ``90s``, ``30m``, ``2h``, ``1h30m``,
``3d``, ``1w``; and moments, as such a duration back from now or an ISO date/datetime."""

import argparse
import re
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
DURATION = re.compile(r"^(?:\d+[wdhms])+$")


def parse_duration(value: str) -> timedelta | None:
    """The duration ``value`` spells, or None if it is not one."""
    value = value.strip()
    if not DURATION.match(value):
        return None
    return timedelta(**{UNITS[u]: int(n) for n, u in re.findall(r"(\d+)([wdhms])", value)})


def duration_argument(value: str) -> timedelta:
    """An ``argparse`` type: a duration, or a clear usage error."""
    delta = parse_duration(value)
    if delta is None:
        raise argparse.ArgumentTypeError(f"{value!r}: give a duration like 90s, 30m, 2h, 1h30m, 3d")
    return delta


def parse_since(value: str) -> datetime:
    """``2h``, ``1h30m``, ``3d`` (that long ago), or an ISO date or datetime (naive
    ones are in the project's time zone)."""
    delta = parse_duration(value)
    if delta is not None:
        return timezone.now() - delta
    try:
        moment = parse_datetime(value.strip())
        if moment is None and (day := parse_date(value.strip())) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise argparse.ArgumentTypeError(f"{value!r}: give a duration like 2h, 30m, 1d, or an ISO date/datetime")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
