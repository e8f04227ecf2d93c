"""Charts drawn on the server as SVG geometry: no chart library, no JavaScript, no internet.

These functions only turn figures the statistics service computed into shapes (positions, sizes,
labels); `templates/statistics/partials/_charts.html` draws them. Colours come from classes in
`static/css/app.css` (the CSP forbids inline styles; SVG presentation attributes are fine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from dashboard.core.display import date_display, mb_display


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the newest day's label ends at the chart's edge


@dataclass
class DailyBar:
    label: str
    title: str
    rects: list[Rect] = field(default_factory=list)


@dataclass
class DailyChart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    bars: list[DailyBar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    total_runs: int

    @property
    def empty(self) -> bool:
        return self.total_runs == 0


@dataclass(frozen=True)
class RateRow:
    label: str
    rate: float | None  # percent, one decimal; None when nothing has finished
    successful: int
    failed: int
    total: int
    bar_width: float  # the successful share, in the chart's units
    failed_width: float  # the failed share, drawn after it
    y: float
    text: str


@dataclass
class RateChart:
    width: int
    height: int
    label_width: float
    bar_area: float
    row_height: float
    rows: list[RateRow]

    @property
    def empty(self) -> bool:
        return not any(row.total for row in self.rows)


@dataclass(frozen=True)
class SizeRow:
    label: str
    value_mb: float
    bar_width: float
    y: float
    text: str


@dataclass
class SizeChart:
    width: int
    height: int
    label_width: float
    bar_area: float
    row_height: float
    rows: list[SizeRow]

    @property
    def empty(self) -> bool:
        return not any(row.value_mb for row in self.rows)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above `value` (an axis maximum people can read)."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)  # pragma: no cover - the loop always returns


def _short_date(day: date) -> str:
    return date_display(day, year=False)


def _as_date(value) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def daily_chart(daily: list[dict], width: int = 960, height: int = 260) -> DailyChart:
    """Stacked bars, one per day: successful (bottom), failed, then still running or waiting.

    Drawn twice by the page, wide and narrow (for phones), so its text stays readable at both.
    """
    left, right, top, bottom = 34.0, width - 14.0, 12.0, height - 30.0
    plot_height = bottom - top
    days = list(daily)
    peak = max((int(d.get("total") or 0) for d in days), default=0)
    # Whole-number ticks (runs are counted): about four steps of 1, 2 or 5 x 10^k.
    step = int(nice_ceiling(max(peak / 4, 1)))
    y_max = step * max(math.ceil(peak / step), 1)
    slot = (right - left) / max(len(days), 1)
    bar_width = max(slot * 0.72, 1.0)
    bars: list[DailyBar] = []
    x_ticks: list[Tick] = []
    total_runs = 0
    for index, entry in enumerate(days):
        day = _as_date(entry["date"])
        total = int(entry.get("total") or 0)
        successful = int(entry.get("successful") or 0)
        failed = int(entry.get("failed") or 0)
        other = max(total - successful - failed, 0)
        total_runs += total
        x = left + index * slot + (slot - bar_width) / 2
        y = bottom
        rects = []
        for count, css in ((successful, "bar-ok"), (failed, "bar-failed"), (other, "bar-running")):
            if count <= 0:
                continue
            h = plot_height * count / y_max
            y -= h
            rects.append(Rect(round(x, 2), round(y, 2), round(bar_width, 2), round(h, 2), css))
        parts = [_plural(total, "run")]
        if total:
            parts.append(f"{successful} successful, {failed} failed")
            if other:
                parts.append(f"{other} waiting or running")
        title = f"{_short_date(day)}: " + ", ".join(parts)
        bars.append(DailyBar(label=_short_date(day), title=title, rects=rects))
        # A date label every 7 days from the newest backwards, so today is always labelled.
        if index == len(days) - 1:
            x_ticks.append(Tick(round(right, 2), _short_date(day), "end"))
        elif (len(days) - 1 - index) % 7 == 0:
            x_ticks.append(Tick(round(left + index * slot + slot / 2, 2), _short_date(day)))
    y_ticks = [
        Tick(round(bottom - plot_height * value / y_max, 2), str(value))
        for value in range(0, y_max + 1, step)
    ]
    return DailyChart(
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        total_runs=total_runs,
    )


def _bars(chart, rows: list, width: int, label_width: float, bar_area: float, row_height: float):
    """A horizontal bar chart of `rows`, one row_height apart (at least one row high when empty)."""
    height = int(max(len(rows), 1) * row_height)
    return chart(width, height, label_width, bar_area, row_height, rows)


def rate_chart(
    groups: dict[str, dict], labels: dict[str, str] | None = None, order: tuple[str, ...] | None = None
) -> RateChart:
    """Horizontal bars: success rate per group (an export type or a format), 0-100%."""
    labels = labels or {}
    keys = list(order) if order else list(groups)
    keys += [k for k in groups if k not in keys]
    width, label_width, row_height = 400, 84.0, 32.0
    bar_area = width - label_width - 124.0
    rows = []
    for index, key in enumerate(keys):
        figures = groups.get(key) or {}
        successful = int(figures.get("successful") or 0)
        failed = int(figures.get("failed") or 0)
        total = int(figures.get("total") or 0)
        finished = successful + failed
        rate = round(100.0 * successful / finished, 1) if finished else None
        if rate is None:
            text = "no finished runs" if total == 0 else f"{_plural(total, 'run')} not finished"
        else:
            text = f"{rate:g}% ({successful} of {finished})"
        rows.append(
            RateRow(
                label=labels.get(key, key),
                rate=rate,
                successful=successful,
                failed=failed,
                total=total,
                bar_width=round(bar_area * (rate or 0) / 100.0, 2),
                failed_width=round(bar_area * (100.0 - rate) / 100.0, 2) if rate is not None else 0.0,
                y=index * row_height,
                text=text,
            )
        )
    return _bars(RateChart, rows, width, label_width, bar_area, row_height)


def size_chart(values: dict[str, float | None], labels: dict[str, str] | None = None) -> SizeChart:
    """Horizontal bars: average file size (MB) per group."""
    labels = labels or {}
    width, label_width, row_height = 400, 84.0, 32.0
    bar_area = width - label_width - 90.0
    peak = max((v or 0 for v in values.values()), default=0)
    scale = nice_ceiling(peak) if peak else 1
    rows = []
    for index, (key, value) in enumerate(values.items()):
        mb = float(value or 0)
        text = mb_display(mb) if value else "no files"
        rows.append(
            SizeRow(
                label=labels.get(key, key),
                value_mb=mb,
                bar_width=round(bar_area * mb / scale, 2),
                y=index * row_height,
                text=text,
            )
        )
    return _bars(SizeChart, rows, width, label_width, bar_area, row_height)
