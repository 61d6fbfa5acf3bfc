"""The few statistics the report needs: latency percentiles and the slope of a series."""

import math
from collections.abc import Iterable, Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of values sorted ascending: the
    smallest value that at least q% of the values do not exceed. NaN for no values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(seconds: Iterable[float]) -> dict[str, float]:
    """p50, p90, p99 and max, in milliseconds, and how many values they summarise."""
    ordered = sorted(seconds)
    summary = {f"p{q}_ms": percentile(ordered, q) * 1000 for q in (50, 90, 99)}
    summary["max_ms"] = ordered[-1] * 1000 if ordered else math.nan
    summary["count"] = len(ordered)
    return summary


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (units of y per unit of x); 0 for fewer than two
    distinct x."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
