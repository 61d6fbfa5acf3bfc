"""Durations as operators type them on a command line: ``90s``, ``30m``, ``2h``, ``1h30m``,
``3d``, ``1w``."""

import argparse
import re
from datetime import timedelta

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
