"""Charts drawn on the server as inline SVG: no chart library, no CDN, no build step.

Colours come from CSS classes (``of-series-<n>``) and the text from ``currentColor``, set
by the dashboard's stylesheet with the admin's own variables, so a chart reads in the
light and the dark theme alike. Every mark carries a ``<title>`` (a tooltip, and what a
screen reader says).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 26


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _html(template: str, *args) -> SafeString:
    """``format_html``, with coordinates rounded to a tenth (it escapes every argument to
    text first, so numbers cannot be formatted in the template)."""
    return format_html(template, *(f"{a:.1f}" if isinstance(a, float) else a for a in args))


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value``: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def _fmt(value: float) -> str:
    return f"{value:g}" if value < 1000 else f"{value / 1000:g}k"


def line_chart(*, title: str, labels: list[str], series: list[Series], unit: str = "", every: int = 6) -> SafeString:
    """One line per series over ``labels`` (x), with a y axis from 0 to a round maximum;
    a label under every ``every``-th point."""
    points = len(labels)
    top = _nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (points - 1) if points > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [_grid(top, y, unit)]
    for i, label in enumerate(labels):
        if i % every == 0 or i == points - 1:
            parts.append(
                _html('<text x="{}" y="{}" class="of-axis" text-anchor="middle">{}</text>', x(i), HEIGHT - 8, label)
            )
    for n, s in enumerate(series):
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(
            _html('<polyline class="of-line of-series-{}" points="{}"><title>{}</title></polyline>', n, coords, s.name)
        )
        for i, v in enumerate(s.values):
            parts.append(
                _html(
                    '<circle class="of-dot of-series-{}" cx="{}" cy="{}" r="2.5"><title>{} {}: {}{}</title></circle>',
                    n,
                    x(i),
                    y(v),
                    labels[i],
                    s.name,
                    _fmt(v),
                    unit,
                )
            )
    return _svg(title, parts, series)


def bar_chart(*, title: str, labels: list[str], series: list[Series], unit: str = "") -> SafeString:
    """Horizontal bars: a group per label, a bar per series."""
    groups, per_group = len(labels), max(len(series), 1)
    bar_h = 10
    height = TOP + BOTTOM + max(groups, 1) * (per_group * bar_h + 12)
    label_w, right = 170, 30  # room for the last tick's label
    plot_w = WIDTH - label_w - right
    top = _nice_max(max((v for s in series for v in s.values), default=0))

    parts = []
    for tick in (0, top / 2, top):
        tx = label_w + plot_w * tick / top
        parts.append(_html('<line class="of-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', tx, tx, TOP, height - BOTTOM))
        parts.append(
            _html(
                '<text x="{}" y="{}" class="of-axis" text-anchor="middle">{}{}</text>',
                tx,
                height - 8,
                _fmt(tick),
                unit,
            )
        )
    for g, label in enumerate(labels):
        y0 = TOP + g * (per_group * bar_h + 12)
        parts.append(
            _html(
                '<text x="{}" y="{}" class="of-axis" text-anchor="end">{}</text>',
                label_w - 6,
                y0 + per_group * bar_h / 2 + 4,
                label,
            )
        )
        for n, s in enumerate(series):
            value = s.values[g]
            parts.append(
                _html(
                    '<rect class="of-bar of-series-{}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{} {}: {}{}</title></rect>",
                    n,
                    label_w,
                    y0 + n * bar_h,
                    max(plot_w * value / top, 1),
                    bar_h - 2,
                    label,
                    s.name,
                    _fmt(value),
                    unit,
                )
            )
    return _svg(title, parts, series, height=height)


def _grid(top: float, y, unit: str) -> SafeString:
    lines = []
    for tick in (0, top / 2, top):
        lines.append(
            _html('<line class="of-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, y(tick), y(tick))
        )
        lines.append(
            _html(
                '<text x="{}" y="{}" class="of-axis" text-anchor="end">{}{}</text>',
                LEFT - 4,
                y(tick) + 4,
                _fmt(tick),
                unit,
            )
        )
    return mark_safe("".join(lines))


def _svg(title: str, parts: list, series: list[Series], *, height: int = HEIGHT) -> SafeString:
    legend = "".join(
        _html('<span class="of-key"><i class="of-swatch of-series-{}"></i>{}</span>', n, s.name)
        for n, s in enumerate(series)
    )
    body = "".join(str(p) for p in parts)
    return mark_safe(
        f'<figure class="of-chart"><figcaption>{escape(title)} <span class="of-legend">{legend}</span></figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg></figure>'
    )
