"""What period an export holds, said in its file name, mail subject and download page (CONTRACT
section 6), and the period before it (for period-over-period figures).

    one day                      sales_2026-12-04.xlsx               "4 Dec 2026"
    a Monday-Sunday week         sales_2026-W48.xlsx                 "week 48 of 2026 (23–29 Nov)"
    a calendar month             sales_2026-11.xlsx                  "November 2026"
    any other range              sales_2026-11-05_to_2026-12-04.xlsx "5 Nov 2026 – 4 Dec 2026"
    no period (customers, ...)   customers_2026-12-05.xlsx           "" (the run's date names the file)

Weeks are ISO weeks: the year in `2026-W01` is the week's ISO year (29 Dec 2025 - 4 Jan 2026).
Pure functions of the resolved filters (`start_date`, `end_date`, inclusive, business-local).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

DAY, WEEK, MONTH, RANGE = "day", "week", "month", "range"


def period_dates(filters: dict | None) -> tuple[date, date] | None:
    """(first, last) day of the resolved period; None when the export has none (or it is open)."""
    filters = filters or {}
    try:
        start = date.fromisoformat(str(filters["start_date"]))
        end = date.fromisoformat(str(filters["end_date"]))
    except (KeyError, TypeError, ValueError):
        return None
    return (start, end) if start <= end else None


def period_kind(start: date, end: date) -> str:
    if start == end:
        return DAY
    if start.weekday() == 0 and end == start + timedelta(days=6):
        return WEEK
    if start.day == 1 and end == start.replace(day=calendar.monthrange(start.year, start.month)[1]):
        return MONTH
    return RANGE


def period_slug(filters: dict | None, on: date) -> str:
    """The file name's period: "2026-12-04", "2026-W48", "2026-11", "2026-11-05_to_2026-12-04";
    `on` (the run's local date) for an export without a period."""
    dates = period_dates(filters)
    if dates is None:
        return on.isoformat()
    start, end = dates
    kind = period_kind(start, end)
    if kind == DAY:
        return start.isoformat()
    if kind == WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == MONTH:
        return f"{start.year}-{start.month:02d}"
    return f"{start.isoformat()}_to_{end.isoformat()}"


def file_name(stem: str, extension: str, filters: dict | None, on: date) -> str:
    """ "sales_2026-W48.xlsx": the dataset's stem, the period (or the run's date), the extension."""
    return f"{stem}_{period_slug(filters, on)}.{extension}"


def _day(value: date, year: bool = True) -> str:
    return f"{value.day} {value:%b}" + (f" {value.year}" if year else "")


def period_label(filters: dict | None) -> str:
    """The period in words for subjects and pages: "4 Dec 2026", "week 48 of 2026 (23–29 Nov)",
    "November 2026", "5 Nov 2026 – 4 Dec 2026"; "" for an export without a period."""
    dates = period_dates(filters)
    if dates is None:
        return ""
    start, end = dates
    kind = period_kind(start, end)
    if kind == DAY:
        return _day(start)
    if kind == WEEK:
        year, week, _ = start.isocalendar()
        days = (
            f"{start.day}–{_day(end, year=False)}"
            if start.month == end.month
            else (f"{_day(start, year=False)} – {_day(end, year=False)}")
        )
        return f"week {week} of {year} ({days})"
    if kind == MONTH:
        return f"{calendar.month_name[start.month]} {start.year}"
    return f"{_day(start)} – {_day(end)}"


def previous_period(start: date, end: date) -> tuple[date, date] | None:
    """The period before: the day, week or calendar month before; another range of as many days
    just before it. None when it would start before year 1."""
    try:
        kind = period_kind(start, end)
        if kind == MONTH:
            last = start - timedelta(days=1)
            return last.replace(day=1), last
        length = (end - start).days + 1
        return start - timedelta(days=length), start - timedelta(days=1)
    except OverflowError:
        return None
