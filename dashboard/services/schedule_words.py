"""A schedule in one sentence, the period that fits its frequency, and a name it can start with.

"Every day at 07:00 Europe/London you'll get yesterday's sales as Excel. Next: Sat 6 Dec, covering
Fri 5 Dec." The new-schedule form shows it above the preview and the schedule's page heads with
it. Pure: values in (the API's field names), words out; nothing here reads the request or the
database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from dashboard.automation.calculator import WEEKDAY_NAMES
from dashboard.core.labels import FORMAT_LABELS
from dashboard.exports.filters import DATE_RANGES, date_range_bounds

# The period each frequency sends when nobody chose another: every record once, none twice.
PERIOD_FOR_FREQUENCY: dict[str, str] = {
    "DAILY": "yesterday",
    "WEEKLY": "previous_week",
    "MONTHLY": "previous_month",
}
# The periods that cover one interval of a frequency. Running totals (week, month or year to
# date) fit any frequency: "this month so far, every morning" is a report people ask for.
_FITS: dict[str, frozenset[str]] = {
    "DAILY": frozenset({"yesterday", "today"}),
    "WEEKLY": frozenset({"previous_week", "last_7_days"}),
    "MONTHLY": frozenset({"previous_month", "last_30_days"}),
}
_ORDER = ("DAILY", "WEEKLY", "MONTHLY")
_INTERVAL = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month"}
_EVERY = {"DAILY": "every day", "WEEKLY": "every week", "MONTHLY": "every month"}

# "yesterday's sales", "last week's audit log": the possessive each period reads as.
_PERIOD_WORDS: dict[str, str] = {
    "today": "today's",
    "yesterday": "yesterday's",
    "last_7_days": "the last 7 days'",
    "last_30_days": "the last 30 days'",
    "previous_week": "last week's",
    "previous_month": "last month's",
    "week_to_date": "this week's",
    "month_to_date": "this month's",
    "year_to_date": "this year's",
}
_PERIOD_TYPES = {"SALES": "sales", "AUDIT_LOGS": "audit log"}
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}


def period_for_frequency(frequency: str | None) -> str:
    """The `date_range` a new schedule of this frequency starts with."""
    return PERIOD_FOR_FREQUENCY.get(str(frequency or "").upper(), "yesterday")


def period_mismatch(frequency: str | None, date_range: str | None) -> str | None:
    """A warning when the period leaves gaps between runs or sends the same days again; else None."""
    frequency = str(frequency or "").upper()
    if frequency not in _FITS or not date_range or date_range in _FITS[frequency]:
        return None
    natural = next((f for f in _ORDER if date_range in _FITS[f]), None)
    if natural is None:  # a running total
        return None
    label = DATE_RANGES.get(date_range, date_range)
    fitting = DATE_RANGES[PERIOD_FOR_FREQUENCY[frequency]]
    interval = _INTERVAL[frequency]
    if _ORDER.index(natural) < _ORDER.index(frequency):
        problem = f"the rest of each {interval} is never sent"
    else:
        problem = "each run sends days an earlier run already sent"
    return (
        f"This runs {_EVERY[frequency]} but covers “{label}”: {problem}. "
        f"“{fitting}” covers each {interval} once."
    )


def _subject(export_type: str, filters: Mapping[str, Any]) -> str:
    """What the mail holds: "yesterday's sales", "your inventory"."""
    if export_type in _PERIOD_TYPES:
        noun = _PERIOD_TYPES[export_type]
        date_range = filters.get("date_range")
        if date_range in _PERIOD_WORDS:
            return f"{_PERIOD_WORDS[date_range]} {noun}"
        start, end = filters.get("start_date"), filters.get("end_date")
        if start and end:
            return f"the {noun} of {_day(date.fromisoformat(str(start)))} to {_day(date.fromisoformat(str(end)))}"
        return f"the {noun}"
    if export_type == "CUSTOMERS":
        return (
            "your customers with their store credit"
            if filters.get("include_credit_history")
            else "your customers"
        )
    if export_type == "INVENTORY":
        return "your inventory"
    return "the export"


def _formats(values: Mapping[str, Any]) -> str:
    formats: Sequence[str] = values.get("formats") or [values.get("format") or "excel"]
    labels = [FORMAT_LABELS.get(f, str(f)) for f in formats]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _when(values: Mapping[str, Any]) -> str:
    """ "Every day at 07:00 Europe/London", "On the last day of each month at 20:00 UTC"."""
    at = f"at {int(values.get('hour') or 0):02d}:{int(values.get('minute') or 0):02d} {values.get('timezone') or 'UTC'}"
    frequency = str(values.get("frequency") or "").upper()
    dow, dom, wom = values.get("day_of_week"), values.get("day_of_month"), values.get("week_of_month")
    if frequency == "WEEKLY" and dow is not None:
        return f"Every {WEEKDAY_NAMES[int(dow)]} {at}"
    if frequency == "MONTHLY":
        if dom is not None and int(dom) == -1:
            return f"On the last day of each month {at}"
        if dom is not None:
            return f"On day {int(dom)} of each month {at}"
        if wom is not None and dow is not None:
            return f"On the {_ORDINALS[int(wom)]} {WEEKDAY_NAMES[int(dow)]} of each month {at}"
    return f"Every day {at}"


def _day(day: date) -> str:
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b')}"


def covered_period(filters: Mapping[str, Any], run_local: datetime) -> str | None:
    """The days a run at local time `run_local` covers, in words ("Fri 5 Dec"), or None."""
    date_range = filters.get("date_range")
    if date_range in DATE_RANGES:
        start, end = date_range_bounds(date_range, run_local.date())
    elif filters.get("start_date") and filters.get("end_date"):
        start, end = (
            date.fromisoformat(str(filters["start_date"])),
            date.fromisoformat(str(filters["end_date"])),
        )
    else:
        return None
    if start == end:
        return _day(start)
    if start.day == 1 and start.month == end.month and date_range == "previous_month":
        return start.strftime("%B %Y")
    return f"{_day(start)} to {_day(end)}"


def schedule_sentence(values: Mapping[str, Any], next_run_local: datetime | None = None) -> str:
    """The schedule in one sentence; with its next run, which day that run is and what it covers."""
    filters = values.get("filters") or {}
    what = _subject(str(values.get("export_type") or ""), filters)
    sentence = f"{_when(values)} you'll get {what} as {_formats(values)}."
    if next_run_local is not None:
        sentence += f" Next: {_day(next_run_local.date())}"
        covered = covered_period(filters, next_run_local)
        sentence += f", covering {covered}." if covered else "."
    return sentence


def suggested_name(values: Mapping[str, Any]) -> str:
    """A name for a schedule nobody named yet: "Yesterday's sales, every day at 07:00"."""
    what = _subject(str(values.get("export_type") or ""), values.get("filters") or {})
    what = what.removeprefix("your ").removeprefix("the ")
    when = _when(values).rsplit(" ", 1)[0]  # without the timezone
    return f"{what[:1].upper()}{what[1:]}, {when[:1].lower()}{when[1:]}"
