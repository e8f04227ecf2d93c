"""Validation of every payload the JSON API, the forms, the CLI and the runner hand to the services.

Each field's own rules are declared once in `services.field_sets` (the mechanism and how to add a
field: `services.fields`); the rules across fields live in `services.field_rules`. Each
`validate_*` function here cleans one kind of request with those declarations, collects every
problem at once and raises one `ValidationError` (field -> messages), or returns a cleaned dict.
JSON types are strict: `"8"` is not an hour and `"yes"` is not a boolean. An unknown top-level field
is an error of its own; read-only fields echoed back by a client (`id`, `next_run_at`, ...) are
ignored. An update that is well formed but conflicts with what is stored raises `StateConflict`
(the API's 409). Messages are written for a business manager; the field key says where to show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.automation.calculator import Timing, timing_of
from dashboard.core.errors import NON_FIELD, ErrorCollector, StateConflict
from dashboard.exports.filters import FILTER_FIELDS
from dashboard.services.cleaners import (
    DEFAULT_MAX_RECIPIENTS,
    MSG_ADDRESS,
    MSG_ADDRESS_LIST,
    MSG_BOOLEAN,
    MSG_TEXT,
    MSG_TIMEZONE_TYPE,
    clean_bool,
    clean_email,
    clean_int,
    clean_recipients,
    clean_text,
    clean_timezone,
    is_timezone_name,
    max_recipients,
    msg_bad_address,
    msg_not_a_timezone,
    msg_too_many_recipients,
    normalize_email,
    split_addresses,
)
from dashboard.services.field_rules import (
    DAY_FIELDS,
    MSG_MONTHLY_BOTH,
    MSG_MONTHLY_DAY_NEEDS_WEEK,
    MSG_MONTHLY_NEEDS_DAY,
    MSG_MONTHLY_WEEK_NEEDS_DAY,
    MSG_WEEKLY_NEEDS_DAY,
    check_filters,
    check_formats,
    check_timing_rules,
    filters_conflict_alone,
    msg_daily_day_field,
    msg_weekly_day_field,
    timing_conflicts_alone,
)
from dashboard.services.field_sets import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_PREVIEW_COUNT,
    EMAIL_MESSAGE_MAX_LENGTH,
    HISTORY_QUERY,
    MAX_PAGE_SIZE,
    MAX_PREVIEW_COUNT,
    MSG_AFTER,
    MSG_COUNT,
    MSG_CURSOR,
    MSG_CURSOR_AND_PAGE,
    MSG_DATE,
    MSG_DAY_OF_MONTH,
    MSG_DAY_OF_WEEK,
    MSG_END_BEFORE_START,
    MSG_EXPORT_TYPE,
    MSG_FILTERS_OBJECT,
    MSG_FORMAT,
    MSG_FREQUENCY,
    MSG_FROM_NAME_LINES,
    MSG_FROM_NAME_LONG,
    MSG_HOUR,
    MSG_MESSAGE_LONG,
    MSG_MINUTE,
    MSG_NAME_LINES,
    MSG_NAME_LONG,
    MSG_NAME_REQUIRED,
    MSG_PAGE,
    MSG_PAGE_SIZE,
    MSG_SCHEDULE_ID,
    MSG_STATUS,
    MSG_SUBJECT_LINES,
    MSG_SUBJECT_LONG,
    MSG_TRIGGER,
    MSG_WEEK_OF_MONTH,
    NOTIFICATIONS,
    ONE_OFF,
    PREVIEW,
    READ_ONLY_SCHEDULE_FIELDS,
    SCHEDULE,
    SCHEDULE_LIST_QUERY,
    TIMING_FIELDS,
    TRIGGER,
)
from dashboard.services.fields import (
    MSG_REQUIRED,
    MSG_UNKNOWN_FIELD,
    TRUTHY,
    Context,
    check_unknown_fields,
    form_value,
)

__all__ = [
    "DEFAULT_MAX_RECIPIENTS",
    "DEFAULT_PAGE_SIZE",
    "EMAIL_MESSAGE_MAX_LENGTH",
    "MAX_PAGE_SIZE",
    "MAX_PREVIEW_COUNT",
    "READ_ONLY_SCHEDULE_FIELDS",
    "SCHEDULE_FIELDS",
    "TIMING_FIELDS",
    "PreviewRequest",
    "clean_email",
    "clean_recipients",
    "is_timezone_name",
    "max_recipients",
    "normalize_email",
    "schedule_data_from_form",
    "split_addresses",
    "validate_history_params",
    "validate_notification_settings",
    "validate_one_off_export",
    "validate_preview",
    "validate_schedule",
    "validate_schedule_list_params",
    "validate_trigger",
]

# The names other modules and tests import from here (each declared in the modules above).
_REEXPORTED = (
    MSG_HOUR,
    MSG_NAME_REQUIRED,
    MSG_ADDRESS,
    MSG_ADDRESS_LIST,
    MSG_BOOLEAN,
    MSG_TEXT,
    MSG_TIMEZONE_TYPE,
    MSG_REQUIRED,
    MSG_UNKNOWN_FIELD,
    MSG_NAME_LONG,
    MSG_NAME_LINES,
    MSG_EXPORT_TYPE,
    MSG_FORMAT,
    MSG_FREQUENCY,
    MSG_MINUTE,
    MSG_DAY_OF_WEEK,
    MSG_DAY_OF_MONTH,
    MSG_WEEK_OF_MONTH,
    MSG_SUBJECT_LONG,
    MSG_SUBJECT_LINES,
    MSG_MESSAGE_LONG,
    MSG_FILTERS_OBJECT,
    MSG_COUNT,
    MSG_FROM_NAME_LONG,
    MSG_FROM_NAME_LINES,
    MSG_PAGE,
    MSG_PAGE_SIZE,
    MSG_CURSOR,
    MSG_DATE,
    MSG_SCHEDULE_ID,
    MSG_STATUS,
    MSG_TRIGGER,
    MSG_WEEKLY_NEEDS_DAY,
    MSG_MONTHLY_NEEDS_DAY,
    MSG_MONTHLY_BOTH,
    MSG_MONTHLY_WEEK_NEEDS_DAY,
    MSG_MONTHLY_DAY_NEEDS_WEEK,
    clean_bool,
    clean_int,
    clean_text,
    clean_timezone,
    msg_bad_address,
    msg_not_a_timezone,
    msg_too_many_recipients,
    msg_daily_day_field,
    msg_weekly_day_field,
    check_unknown_fields,
    DEFAULT_PREVIEW_COUNT,
)

SCHEDULE_FIELDS: tuple[str, ...] = SCHEDULE.names
REQUIRED_SCHEDULE_FIELDS: frozenset[str] = frozenset(SCHEDULE.required)
TRIGGER_FIELDS: tuple[str, ...] = TRIGGER.names
ONE_OFF_FIELDS: tuple[str, ...] = ONE_OFF.names
PREVIEW_FIELDS: tuple[str, ...] = PREVIEW.names
NOTIFICATION_FIELDS: tuple[str, ...] = NOTIFICATIONS.names
NOTIFICATION_READ_ONLY_FIELDS: frozenset[str] = NOTIFICATIONS.ignored
# The preview's `after` (the document's pattern says the same): past 2999 nobody needs a preview,
# and near 9999 occurrences would run off the calendar.
INSTANT_YEARS = range(1000, 3000)


# --------------------------------------------------------------------------------------------
# Schedules


def _drop_conflicting_day_fields(values: dict[str, Any], supplied: set[str]) -> None:
    """On an update, day fields the client did not send give way to the ones it did.

    Changing a weekly schedule to {"frequency": "DAILY"} clears its stored day_of_week, and a
    monthly "2nd Tuesday" given {"day_of_month": 5} drops its week: what the client sends wins.
    Fields the client does send are never dropped; they are checked against the frequency.
    """

    def drop(*fields: str) -> None:
        for field in fields:
            if field not in supplied:
                values[field] = None

    frequency = values.get("frequency")
    if frequency == "DAILY":
        drop(*DAY_FIELDS)
    elif frequency == "WEEKLY":
        drop("day_of_month", "week_of_month")
    elif frequency == "MONTHLY":
        if "day_of_month" in supplied and values.get("day_of_month") is not None:
            drop("week_of_month", "day_of_week")
        elif {"week_of_month", "day_of_week"} & supplied and (
            values.get("week_of_month") is not None or values.get("day_of_week") is not None
        ):
            drop("day_of_month")
        # WEEKLY -> MONTHLY without a day: day_of_week stays, and the rules ask for week_of_month.


def _timing_errors_free(errors: ErrorCollector) -> bool:
    return not any(field in errors.errors for field in TIMING_FIELDS)


def _check_timing(errors: ErrorCollector, values: Mapping[str, Any]) -> None:
    """The day rules, then the calculator's own check (a rule missed must not reach the runner)."""
    if not _timing_errors_free(errors):
        return
    check_timing_rules(errors, values)
    if _timing_errors_free(errors) and NON_FIELD not in errors.errors:
        try:
            timing_of(SimpleNamespace(**{f: values.get(f) for f in TIMING_FIELDS}))
        except ValueError as exc:
            errors.add(NON_FIELD, f"This timing is not possible: {exc}.")


def validate_schedule(
    data: object,
    business_timezone: str,
    *,
    current: Mapping[str, Any] | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """Check a schedule payload; return every writable field, cleaned.

    `business_timezone` is the default `timezone`. `current` is the existing schedule's values
    (an update): fields the payload leaves out keep them, as in DRF (a PUT must still send the
    required fields; `partial=True`, a PATCH, need not). Cross-field rules run on the merged result.
    Raises ValidationError with every problem at once; StateConflict when the request is fine on
    its own and only the merge with `current` breaks a rule.
    """
    values, supplied, errors = SCHEDULE.clean(
        data, Context(business_timezone), current=current, partial=partial, what="schedule"
    )
    request_broken = bool(errors)
    if current is not None:
        _drop_conflicting_day_fields(values, supplied)
    _check_timing(errors, values)
    check_formats(errors, values, supplied, partial=partial)
    # Filters depend on the export type: checked when either is sent (and always on create), so
    # a PATCH of the name is not refused for filters that were valid when they were saved.
    if current is None or {"filters", "export_type"} & supplied:
        check_filters(errors, values)
    if errors and current is not None and not request_broken:
        if not (timing_conflicts_alone(values, supplied) or filters_conflict_alone(values, supplied)):
            raise StateConflict(errors.errors)
    errors.raise_if_any()
    return {field: values.get(field) for field in SCHEDULE_FIELDS}


def schedule_data_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """An HTML form's strings in the JSON types `validate_schedule` expects, each field read as its
    declared kind (`fields.form_value`): numbers become ints ("" is null; anything else stays a
    string, so the validator names the field), checkboxes booleans (absent = false), the recipients
    textarea a list; `filters.<key>` fields become the filters of the chosen export type."""

    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    data = {f.name: form_value(f, text(f.name)) for f in SCHEDULE.fields if f.kind.form != "none"}
    data["filters"] = filters_from_form(form, data["export_type"])
    data["formats"] = data.get("formats") or None  # no "formats" input: just `format`
    return data


def filters_from_form(form: Mapping[str, Any], export_type: object) -> dict[str, Any]:
    """The `filters.<key>` inputs of the chosen export type as the API's `filters`."""
    filters: dict[str, Any] = {}
    kinds = FILTER_FIELDS.get(str(export_type or "").strip().upper(), {})
    for key, kind in kinds.items():
        value = form.get(f"filters.{key}")
        value = value.strip() if isinstance(value, str) else ""
        if kind is bool:
            filters[key] = value.lower() in TRUTHY
        elif value:
            filters[key] = value
    return filters


# --------------------------------------------------------------------------------------------
# Trigger, one-off export, preview


def validate_trigger(data: object) -> dict[str, Any]:
    """`{"send_email": bool = true, "override_recipients": [addresses] | null}`.

    An empty override list means "no override" (the schedule's recipients), not "nobody": to send
    to nobody, set send_email to false.
    """
    values, _, errors = TRIGGER.clean(data, Context())
    errors.raise_if_any()
    return {"send_email": values["send_email"], "override_recipients": values["override_recipients"] or None}


def validate_one_off_export(data: object) -> dict[str, Any]:
    """`{"export_type", "format", "filters", "recipients"?}` for `POST /api/reports/exports/`."""
    values, supplied, errors = ONE_OFF.clean(data, Context(), what="export request")
    check_formats(errors, values, supplied)
    check_filters(errors, values)
    errors.raise_if_any()
    return {field: values.get(field) for field in ONE_OFF_FIELDS}


@dataclass(frozen=True)
class PreviewRequest:
    timing: Timing
    after: datetime  # aware UTC
    count: int


def _parse_instant(value: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601 -> aware UTC; a time without an offset is wall-clock time in `zone` (what a person
    typing into the preview form means)."""
    text = value.strip()
    if not text or len(text) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # within hours of the calendar's ends: its first or last instant
        return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)


def validate_preview(data: object, business_timezone: str, *, now: datetime | None = None) -> PreviewRequest:
    """The timing fields (as on a schedule), `after` (ISO 8601, default now) and `count` (1-50, 5)."""
    values, _, errors = PREVIEW.clean(data, Context(business_timezone), what="preview request")
    _check_timing(errors, values)
    after = now or datetime.now(UTC)
    raw_after = values.get("after")
    if isinstance(raw_after, str) and raw_after.strip():
        parsed = _parse_instant(raw_after, ZoneInfo(values.get("timezone") or "UTC"))
        year = raw_after.strip()[:4]
        if parsed is None or not (year.isdigit() and int(year) in INSTANT_YEARS):
            errors.add("after", MSG_AFTER)
        else:
            after = parsed
    errors.raise_if_any()
    timing = timing_of(SimpleNamespace(**{f: values[f] for f in TIMING_FIELDS}))
    return PreviewRequest(timing=timing, after=after, count=values["count"])


# --------------------------------------------------------------------------------------------
# Notification settings


def validate_notification_settings(data: object, current: Mapping[str, Any]) -> dict[str, Any]:
    """Every notification field, cleaned; fields left out keep their `current` values."""
    values, _, errors = NOTIFICATIONS.clean(
        data, Context(), current=current, partial=True, what="notification settings"
    )
    errors.raise_if_any()
    return {field: values.get(field) for field in NOTIFICATION_FIELDS}


# --------------------------------------------------------------------------------------------
# List query parameters (strings from a query string; ints and dates are accepted from the CLI)


def _clamped(values: dict[str, Any]) -> dict[str, Any]:
    values["page"] = values.get("page") or 1
    values["page_size"] = min(values.get("page_size") or 1, MAX_PAGE_SIZE)
    return values


def validate_history_params(args: Mapping[str, Any]) -> dict[str, Any]:
    """History list parameters -> {"export_type", "format", "status", "trigger", "schedule_id"
    (UUID), "start_date", "end_date" (dates), "page", "page_size", "cursor" (a keyset Cursor)};
    absent ones are None. `page_size` defaults to 20 and is clamped to 100. Empty values count as
    absent. A cursor comes from a list's next/previous link; it and `page` exclude each other."""
    both = _given(args, "cursor") and _given(args, "page")
    if both:  # the cursor is not read: it and page exclude each other
        args = {key: value for key, value in args.items() if key != "cursor"}
    values, errors = HISTORY_QUERY.clean_query(args, Context())
    if values["start_date"] and values["end_date"] and values["start_date"] > values["end_date"]:
        errors.add("end_date", MSG_END_BEFORE_START)
    if both:
        errors.add("cursor", MSG_CURSOR_AND_PAGE)
    errors.raise_if_any()
    return _clamped(values)


def validate_schedule_list_params(args: Mapping[str, Any]) -> dict[str, Any]:
    """Schedule list parameters -> {"is_active" (bool|None), "export_type", "frequency", "search",
    "page", "page_size"}."""
    values, errors = SCHEDULE_LIST_QUERY.clean_query(args, Context())
    errors.raise_if_any()
    return _clamped(values)


def _given(args: Mapping[str, Any], name: str) -> bool:
    value = args.get(name)
    return value is not None and not (isinstance(value, str) and not value.strip())
