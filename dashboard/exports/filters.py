"""Export filters: validation (what the API, forms and CLI accept) and resolution (what a run uses).

Rules (CONTRACT section 3):
- SALES and AUDIT_LOGS need a period: `start_date` and `end_date` (`YYYY-MM-DD`, inclusive,
  start <= end) or a relative `date_range` (not both).
- CUSTOMERS takes `include_credit_history` (bool); INVENTORY takes `exclude_zero_value` (bool).
- An unknown key, a wrong type or filters that are not a JSON object are errors.

Errors are `FilterValidationError` (a `ValidationError`) keyed `"filters"` for the object as a whole
(not an object, unknown key) or `"filters.<key>"` for one field, so the API answers
`{"errors": {"filters.start_date": ["..."]}}` and a form shows the message beside its field.

`resolve_filters` is pure: it turns a `date_range` into concrete dates in a timezone at an instant
passed in, so a run (and its history's `filters_applied`) records the exact period it covered.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dashboard.core.display import date_display
from dashboard.core.errors import ErrorCollector, ValidationError
from dashboard.core.labels import EXPORT_TYPE_LABELS, EXPORT_TYPES, FORMATS


class FilterValidationError(ValidationError):
    """Invalid export filters; `errors` keyed "filters" or "filters.<key>"."""


# value -> the words a form shows
DATE_RANGES: dict[str, str] = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "previous_week": "Previous week",
    "previous_month": "Previous month",
    "week_to_date": "Week to date",
    "month_to_date": "Month to date",
    "year_to_date": "Year to date",
}

_PERIOD_FIELDS: dict[str, type] = {"start_date": date, "end_date": date, "date_range": str}

# export type -> allowed filter keys and their kinds (forms and the OpenAPI document read this)
FILTER_FIELDS: dict[str, dict[str, type]] = {
    "SALES": dict(_PERIOD_FIELDS),
    "CUSTOMERS": {"include_credit_history": bool},
    "INVENTORY": {"exclude_zero_value": bool},
    "AUDIT_LOGS": dict(_PERIOD_FIELDS),
}

# Types whose exports cover a period and therefore need one.
PERIOD_TYPES = frozenset(t for t, fields in FILTER_FIELDS.items() if "date_range" in fields)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _normalize_type(export_type: object) -> str | None:
    if isinstance(export_type, str) and export_type.strip().upper() in EXPORT_TYPES:
        return export_type.strip().upper()
    return None


def _normalize_format(fmt: object) -> str | None:
    if isinstance(fmt, str) and fmt.strip().lower() in FORMATS:
        return fmt.strip().lower()
    return None


def _type_error(export_type: object) -> FilterValidationError:
    allowed = ", ".join(EXPORT_TYPES)
    return FilterValidationError(
        {"export_type": [f"Choose an export type: {allowed} (got {export_type!r})."]}
    )


def _parse_date(value: object) -> date | None:
    """A `YYYY-MM-DD` string (or a date) -> date; None when it is not one."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _absent(value: object) -> bool:
    # null, or an empty form field, means "not given" rather than "invalid".
    return value is None or (isinstance(value, str) and value.strip() == "")


def validate_filters(export_type: str, filters: object) -> dict:
    """Check filters for an export type and return a normalized copy.

    Dates come back as ISO strings, booleans as real booleans; absent (null or empty) values are
    dropped. Raises FilterValidationError with every problem found.
    """
    kind = _normalize_type(export_type)
    if kind is None:
        raise _type_error(export_type)
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        raise FilterValidationError({"filters": ["Filters must be a JSON object, for example {}."]})

    allowed = FILTER_FIELDS[kind]
    errors = ErrorCollector()
    result: dict = {}
    for key, value in filters.items():
        if not isinstance(key, str) or key not in allowed:
            names = ", ".join(allowed) or "none"
            errors.add(
                "filters",
                f"Unknown filter {key!r} for {EXPORT_TYPE_LABELS[kind]} exports (allowed: {names}).",
            )
            continue
        field = f"filters.{key}"
        expected = allowed[key]
        if expected is bool:
            if value is None:
                continue
            if not isinstance(value, bool):
                errors.add(field, "Must be true or false.")
                continue
            result[key] = value
        elif expected is date:
            if _absent(value):
                continue
            parsed = _parse_date(value)
            if parsed is None:
                errors.add(field, "Enter a real date as YYYY-MM-DD, for example 2024-03-15.")
                continue
            result[key] = parsed.isoformat()
        elif key == "date_range":
            if _absent(value):
                continue
            if not isinstance(value, str) or value.strip() not in DATE_RANGES:
                choices = ", ".join(DATE_RANGES)
                errors.add(field, f"Choose a date range: {choices}.")
                continue
            result[key] = value.strip()

    if kind in PERIOD_TYPES:
        # "Given" counts invalid values too: their own error is already recorded.
        has_range = not _absent(filters.get("date_range"))
        has_start = not _absent(filters.get("start_date"))
        has_end = not _absent(filters.get("end_date"))
        if has_range and (has_start or has_end):
            errors.add("filters.date_range", "Choose either a date range or a start and end date, not both.")
        elif not has_range:
            if not has_start and not has_end:
                errors.add(
                    "filters.date_range",
                    "Choose a date range, or give a start date and an end date.",
                )
            elif not has_start:
                errors.add("filters.start_date", "Enter a start date too.")
            elif not has_end:
                errors.add("filters.end_date", "Enter an end date too.")
            elif (
                "start_date" in result and "end_date" in result and result["start_date"] > result["end_date"]
            ):
                errors.add("filters.end_date", "The end date must be on or after the start date.")

    if errors:
        raise FilterValidationError(errors.errors)
    return result


def validate_export_request(export_type: object, fmt: object, filters: object) -> dict:
    """Validate a whole export request: {"export_type", "format", "filters"} normalized.

    Raises ValidationError (a FilterValidationError) keyed export_type / format / filters.*.
    """
    errors = ErrorCollector()
    kind = _normalize_type(export_type)
    if kind is None:
        errors.merge(_type_error(export_type).errors)
    fmt_name = _normalize_format(fmt)
    if fmt_name is None:
        errors.add("format", f"Choose a format: {', '.join(FORMATS)} (got {fmt!r}).")
    normalized: dict = {}
    if kind is not None:
        try:
            normalized = validate_filters(kind, filters)
        except FilterValidationError as exc:
            errors.merge(exc.errors)
    elif filters is not None and not isinstance(filters, dict):
        errors.add("filters", "Filters must be a JSON object, for example {}.")
    if errors:
        raise FilterValidationError(errors.errors)
    return {"export_type": kind, "format": fmt_name, "filters": normalized}


def date_range_bounds(date_range: str, today: date) -> tuple[date, date]:
    """The inclusive (start, end) of a relative range when the local date is `today`."""
    if date_range == "today":
        return today, today
    if date_range == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if date_range == "last_7_days":
        return today - timedelta(days=7), today - timedelta(days=1)
    if date_range == "last_30_days":
        return today - timedelta(days=30), today - timedelta(days=1)
    if date_range == "previous_week":
        start = today - timedelta(days=today.weekday() + 7)
        return start, start + timedelta(days=6)
    if date_range == "previous_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if date_range == "week_to_date":  # Monday of D's week to D ("this week's audit log on Friday")
        return today - timedelta(days=today.weekday()), today
    if date_range == "month_to_date":
        return today.replace(day=1), today
    if date_range == "year_to_date":
        return today.replace(month=1, day=1), today
    raise FilterValidationError({"filters.date_range": [f"Unknown date range {date_range!r}."]})


def local_today(tz: str, now: datetime) -> date:
    """The calendar date at instant `now` (naive means UTC) in timezone `tz`."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError({"timezone": [f"Unknown timezone {tz!r}."]}) from exc
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(zone).date()


def resolve_filters(export_type: str, filters: dict, tz: str, now: datetime) -> dict:
    """Validated filters with any `date_range` resolved to `start_date`/`end_date` (ISO strings).

    Pure: the period is computed for the local date in `tz` at instant `now`. The `date_range` key is
    kept beside the dates so the history shows both what was asked and what was run.
    """
    resolved = validate_filters(export_type, filters)
    date_range = resolved.get("date_range")
    if date_range:
        start, end = date_range_bounds(date_range, local_today(tz, now))
        resolved["start_date"] = start.isoformat()
        resolved["end_date"] = end.isoformat()
    return resolved


def filters_for_rerun(filters_applied: dict) -> dict:
    """Filters that run the same period again: a resolved `date_range` is pinned to its dates.

    `filters_applied` holds both the range and its dates, which `validate_filters` would reject as
    "not both"; a rerun must cover the same period, so the dates win.
    """
    filters = dict(filters_applied or {})
    if filters.get("date_range") and filters.get("start_date") and filters.get("end_date"):
        filters.pop("date_range")
    return filters


def describe_filters(export_type: str, filters: dict) -> str:
    """Plain words for a (resolved) filter set, e.g. "1 Mar 2024 - 31 Mar 2024 (Previous month)"."""
    key = (
        filters.get("start_date"),
        filters.get("end_date"),
        filters.get("date_range"),
        bool(filters.get("include_credit_history")),
        bool(filters.get("exclude_zero_value")),
    )
    try:
        return _described(*key)
    except TypeError:  # a value that cannot be a cache key (a hand-edited record): work it out
        return _described.__wrapped__(*key)


# Kept: a page of runs describes 20 filter sets, most of them the same few periods, and parsing
# and writing the dates was a tenth of presenting a run.
@lru_cache(maxsize=1024)
def _described(start: Any, end: Any, date_range: Any, credit_history: bool, zero_value: bool) -> str:
    parts = []
    if start and end:
        s, e = date.fromisoformat(start), date.fromisoformat(end)
        period = _human_date(s) if s == e else f"{_human_date(s)} – {_human_date(e)}"
        if date_range in DATE_RANGES:
            period += f" ({DATE_RANGES[date_range]})"
        parts.append(period)
    elif date_range in DATE_RANGES:
        parts.append(DATE_RANGES[date_range])
    if credit_history:
        parts.append("with credit history")
    if zero_value:
        parts.append("excluding items with no stock value")
    return ", ".join(parts) or "All records"


def _human_date(day: date) -> str:
    return date_display(day)
