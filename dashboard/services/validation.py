"""Validation of every payload the JSON API, the forms, the CLI and the runner hand to the services.

Each `validate_*` function takes plain data (decoded JSON, or query-string values), collects every
problem at once and raises one `ValidationError` (field -> messages), or returns a cleaned dict.
JSON types are strict: `"8"` is not an hour and `"yes"` is not a boolean. Unknown keys are ignored,
as read-only fields echoed back by a client (`id`, `next_run_at`, ...) must not fail a request.

Messages are written for a business manager; the field key says where to show them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context

from dashboard.automation.calculator import Timing, timing_of
from dashboard.exports.filters import FILTER_FIELDS, FilterValidationError, validate_filters
from dashboard.models.automation import EXPORT_TYPES, FORMATS, FREQUENCIES, STATUSES, TRIGGERS
from dashboard.services import addresses
from dashboard.services.errors import NON_FIELD, ErrorCollector, ValidationError
from dashboard.services.keyset import InvalidCursor, decode_cursor

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

DEFAULT_MAX_RECIPIENTS = 50
EMAIL_MESSAGE_MAX_LENGTH = 5000
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PREVIEW_COUNT = 50
DEFAULT_PREVIEW_COUNT = 5
# Past this many bad addresses one more message sums up the rest: a pasted list of 10,000 bad
# lines should not come back as 10,000 messages.
_MAX_ADDRESS_MESSAGES = 10

TIMING_FIELDS: tuple[str, ...] = (
    "frequency",
    "hour",
    "minute",
    "day_of_week",
    "day_of_month",
    "week_of_month",
    "timezone",
)
DAY_FIELDS: tuple[str, ...] = ("day_of_week", "day_of_month", "week_of_month")
# Every field a client may write, in the order the errors and the audit details list them.
SCHEDULE_FIELDS: tuple[str, ...] = (
    "name",
    "export_type",
    "format",
    *TIMING_FIELDS,
    "recipients",
    "include_creator_email",
    "email_subject",
    "email_message",
    "filters",
    "skip_if_empty",
    "is_active",
)
REQUIRED_SCHEDULE_FIELDS: frozenset[str] = frozenset({"name", "export_type", "format", "frequency", "hour"})
# Returned by the API; a client that sends them back gets them silently ignored.
READ_ONLY_SCHEDULE_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "business",
        "created_by",
        "created_by_name",
        "last_run_at",
        "next_run_at",
        "created_at",
        "updated_at",
        "next_run_display",
        "last_run_display",
        "status_display",
        "next_runs",
        "schedule_description",
        "export_type_display",
        "format_display",
        "frequency_display",
        "filters_display",
    }
)
MSG_UNKNOWN_FIELD = "Unknown field."
# A body of thousands of unknown keys is answered with the first few, each name cut short.
_MAX_UNKNOWN_NAMED = 10
_UNKNOWN_NAME_LENGTH = 100

_MISSING: Any = object()


# --------------------------------------------------------------------------------------------
# Messages (one place, so the API, the forms and the tests say the same words)

MSG_REQUIRED = "This field is required."
MSG_NAME_REQUIRED = "Enter a name for the schedule."
MSG_NAME_LONG = "The name must be at most 255 characters."
MSG_NAME_LINES = "The name must be a single line."
MSG_EXPORT_TYPE = "Choose an export type: SALES, CUSTOMERS, INVENTORY or AUDIT_LOGS."
MSG_FORMAT = "Choose a format: excel, csv or pdf."
MSG_FREQUENCY = "Choose a frequency: DAILY, WEEKLY or MONTHLY."
MSG_HOUR = "Enter an hour from 0 to 23."
MSG_MINUTE = "Enter a minute from 0 to 59."
MSG_DAY_OF_WEEK = "Enter a day of the week from 0 (Monday) to 6 (Sunday)."
MSG_DAY_OF_MONTH = "Enter a day of the month from 1 to 31, or -1 for the last day."
MSG_WEEK_OF_MONTH = "Enter a week of the month from 1 to 4, or -1 for the last week."
MSG_TIMEZONE_TYPE = "Enter a timezone name such as Europe/London."
MSG_BOOLEAN = "Enter true or false."
MSG_SUBJECT_LONG = "The subject must be at most 255 characters."
MSG_SUBJECT_LINES = "The subject must be a single line."
MSG_MESSAGE_LONG = f"The message must be at most {EMAIL_MESSAGE_MAX_LENGTH:,} characters."
MSG_TEXT = "Enter text."
MSG_ADDRESS = "Enter an e-mail address, for example accounts@example.com."
MSG_ADDRESS_LIST = 'Enter a list of e-mail addresses, for example ["accounts@example.com"].'
MSG_WEEKLY_NEEDS_DAY = "Weekly schedules need a day of the week."
MSG_MONTHLY_NEEDS_DAY = (
    "Monthly schedules need a day_of_month, or a week_of_month with a day_of_week (e.g. the 2nd Tuesday)."
)
MSG_MONTHLY_BOTH = (
    "Monthly schedules run on a day_of_month or on a week_of_month with a day_of_week, not both."
)
MSG_MONTHLY_WEEK_NEEDS_DAY = (
    "Choose the day of the week for week_of_month (e.g. 2 and 1 for the 2nd Tuesday)."
)
MSG_MONTHLY_DAY_NEEDS_WEEK = (
    "Choose which week of the month (1 to 4, or -1 for the last) to run on this day of the week."
)
MSG_FILTERS_OBJECT = "Filters must be a JSON object, for example {}."
MSG_AFTER = "Enter a date and time in ISO 8601, for example 2027-03-14T07:30:00Z."
MSG_COUNT = f"Enter a count from 1 to {MAX_PREVIEW_COUNT}."
MSG_FROM_NAME_LONG = "The sender name must be at most 255 characters."
MSG_FROM_NAME_LINES = "The sender name must be a single line."
MSG_PAGE = "Enter a page number of 1 or more."
MSG_CURSOR = "This cursor is not valid: follow the list's next or previous link, or ask for a page."
MSG_CURSOR_AND_PAGE = "Send either page or cursor, not both."
MSG_PAGE_SIZE = "Enter a page size of 1 or more."
MSG_DATE = "Enter a date as YYYY-MM-DD, for example 2024-03-15."
MSG_END_BEFORE_START = "The end date must be on or after the start date."
MSG_SCHEDULE_ID = "Enter a schedule id (a UUID)."
MSG_STATUS = "Choose a status: " + ", ".join(STATUSES) + "."
MSG_TRIGGER = "Choose a trigger: " + ", ".join(TRIGGERS) + "."


def msg_not_a_timezone(name: str) -> str:
    return f"'{name}' is not a timezone name such as Europe/London."


def msg_too_many_recipients(limit: int) -> str:
    return f"At most {limit} recipients."


def msg_bad_address(value: object) -> str:
    # Shortened: a 200 KB "address" must not come back 200 KB long (issue 15).
    return f"'{addresses.shorten(value)}' is not a valid e-mail address."


def msg_daily_day_field(field: str) -> str:
    return f"Daily schedules run every day: remove {field}."


def msg_weekly_day_field(field: str) -> str:
    return f"Weekly schedules run on a day of the week: remove {field}."


# --------------------------------------------------------------------------------------------
# Small field cleaners: each adds its message to `errors` and returns the cleaned value (or None)


def max_recipients() -> int:
    """The app's `MAX_RECIPIENTS` (50 outside an app)."""
    if has_app_context():
        return int(current_app.config.get("MAX_RECIPIENTS", DEFAULT_MAX_RECIPIENTS))
    return DEFAULT_MAX_RECIPIENTS


def _is_int(value: object) -> bool:
    # bool is an int subclass: True must not pass as hour 1.
    return isinstance(value, int) and not isinstance(value, bool)


def clean_int(
    errors: ErrorCollector,
    field: str,
    value: object,
    allowed: range,
    message: str,
    *,
    extra: tuple[int, ...] = (),
    nullable: bool = False,
) -> int | None:
    if value is None and nullable:
        return None
    if not _is_int(value) or (value not in allowed and value not in extra):
        errors.add(field, message)
        return None
    assert isinstance(value, int)
    return value


def clean_bool(errors: ErrorCollector, field: str, value: object) -> bool | None:
    if not isinstance(value, bool):
        errors.add(field, MSG_BOOLEAN)
        return None
    return value


def clean_text(
    errors: ErrorCollector,
    field: str,
    value: object,
    *,
    max_length: int,
    long_message: str,
    single_line: bool = False,
    lines_message: str = "",
) -> str | None:
    """Text (null means empty), stripped, within `max_length`; CR/LF refused when `single_line`
    (they would break a mail header: Flask-Mail raises BadHeaderError on them)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(field, MSG_TEXT)
        return None
    value = value.strip()
    ok = True
    if single_line and ("\r" in value or "\n" in value):
        errors.add(field, lines_message)
        ok = False
    if len(value) > max_length:
        errors.add(field, long_message)
        ok = False
    return value if ok else None


def normalize_email(value: str) -> str | None:
    """The address in email-validator's normalized form, or None when it is not valid.

    No DNS lookups: deliverability is the mail server's business, and tests run offline.
    """
    try:
        normalized = validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None
    # "=?" opens an RFC 2047 encoded word, which no address may hold (RFC 2047 section 5): the
    # email package decodes one in a header, and "=?utf-8?q?=0D=0A...?=" decodes to a line break.
    return None if "=?" in normalized else normalized


def clean_email(errors: ErrorCollector, field: str, value: object) -> str | None:
    """One optional address: null or "" is "", anything else must be valid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str):
        errors.add(field, MSG_ADDRESS)
        return None
    normalized = normalize_email(value)
    if normalized is None:
        errors.add(field, msg_bad_address(value.strip()))
        return None
    if addresses.needs_smtputf8(normalized):
        errors.add(field, addresses.msg_needs_smtputf8(normalized))
        return None
    return normalized


def clean_recipients(
    errors: ErrorCollector, field: str, value: object, *, limit: int | None = None
) -> list[str] | None:
    """A list of valid addresses, de-duplicated case-insensitively in order (silently), at most
    `limit` (default: `MAX_RECIPIENTS`). Blank entries are dropped. null is an empty list."""
    limit = max_recipients() if limit is None else limit
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors.add(field, MSG_ADDRESS_LIST)
        return None
    # The cap first, before any address is validated (about 0.1 ms each): 40,000 pasted addresses
    # are refused at once with one short message (issue 15).
    count = addresses.count_addresses(value)
    if count > limit:
        errors.add(field, addresses.msg_too_many(limit))
        return None
    result: list[str] = []
    seen: set[str] = set()
    bad = 0
    for item in value:
        if isinstance(item, str) and not item.strip():
            continue
        normalized = normalize_email(item) if isinstance(item, str) else None
        if normalized is None or addresses.needs_smtputf8(normalized):
            bad += 1
            if bad <= _MAX_ADDRESS_MESSAGES:
                if normalized is None:
                    errors.add(field, msg_bad_address(item.strip() if isinstance(item, str) else item))
                else:
                    errors.add(field, addresses.msg_needs_smtputf8(normalized))
            continue
        if normalized.lower() not in seen:
            seen.add(normalized.lower())
            result.append(normalized)
    if bad > _MAX_ADDRESS_MESSAGES:
        errors.add(field, f"... and {bad - _MAX_ADDRESS_MESSAGES} more addresses that are not valid.")
    if len(result) > limit:
        errors.add(field, msg_too_many_recipients(limit))
    return None if bad or len(result) > limit else result


_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


def split_addresses(text: str | None) -> list[str]:
    """Addresses typed into a textarea, separated by commas, semicolons, spaces or new lines."""
    return [part for part in _ADDRESS_SEPARATORS.split(text or "") if part]


@lru_cache(maxsize=1)
def _timezone_names() -> frozenset[str]:
    # "localtime" loads but means whatever the machine is set to: not an IANA name.
    return frozenset(available_timezones()) - {"localtime"}


def is_timezone_name(name: object) -> bool:
    """True for an IANA timezone name that this machine's tz database knows."""
    if not isinstance(name, str) or name not in _timezone_names():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, OSError):
        return False
    return True


def clean_timezone(errors: ErrorCollector, field: str, value: object, default: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        errors.add(field, MSG_TIMEZONE_TYPE)
        return None
    name = value.strip()
    if not is_timezone_name(name):
        errors.add(field, msg_not_a_timezone(name[:64]))
        return None
    return name


def _clean_choice(
    errors: ErrorCollector, field: str, value: object, choices: Iterable[str], message: str, *, upper: bool
) -> str | None:
    # Case-insensitive: "sales" and "Excel" mean what they say; stored in the canonical case.
    if isinstance(value, str):
        candidate = value.strip().upper() if upper else value.strip().lower()
        if candidate in choices:
            return candidate
    errors.add(field, message)
    return None


def _require_object(data: object, what: str) -> Mapping:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError({NON_FIELD: [f"Send the {what} as a JSON object."]})
    return data


def check_unknown_fields(
    errors: ErrorCollector, data: Mapping, known: Iterable[str], ignored: Iterable[str] = ()
) -> None:
    """Each top-level field that is neither `known` nor `ignored` is an error of its own
    ("Unknown field."): a typo such as `recipents` must never be dropped silently (contract
    section 6). At most a few are named, each cut short, beside a count of the rest."""
    allowed = set(known) | set(ignored)
    unknown = [key for key in data if key not in allowed]
    for key in unknown[:_MAX_UNKNOWN_NAMED]:
        errors.add(str(key)[:_UNKNOWN_NAME_LENGTH], MSG_UNKNOWN_FIELD)
    if len(unknown) > _MAX_UNKNOWN_NAMED:
        errors.add(NON_FIELD, f"{len(unknown) - _MAX_UNKNOWN_NAMED:,} more unknown fields.")


# --------------------------------------------------------------------------------------------
# Schedules


def _schedule_defaults(business_timezone: str) -> dict[str, Any]:
    return {
        "minute": 0,
        "day_of_week": None,
        "day_of_month": None,
        "week_of_month": None,
        "timezone": business_timezone,
        "recipients": [],
        "include_creator_email": False,
        "email_subject": "",
        "email_message": "",
        "filters": {},
        "skip_if_empty": False,
        "is_active": True,
    }


def _clean_schedule_field(errors: ErrorCollector, field: str, value: object, business_timezone: str) -> Any:
    """The cleaned value of one schedule field (None after an error)."""
    if field == "name":
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.add(field, MSG_NAME_REQUIRED)
            return None
        return clean_text(
            errors,
            field,
            value,
            max_length=255,
            long_message=MSG_NAME_LONG,
            single_line=True,
            lines_message=MSG_NAME_LINES,
        )
    if field == "export_type":
        return _clean_choice(errors, field, value, EXPORT_TYPES, MSG_EXPORT_TYPE, upper=True)
    if field == "format":
        return _clean_choice(errors, field, value, FORMATS, MSG_FORMAT, upper=False)
    if field == "frequency":
        return _clean_choice(errors, field, value, FREQUENCIES, MSG_FREQUENCY, upper=True)
    if field == "hour":
        return clean_int(errors, field, value, range(24), MSG_HOUR)
    if field == "minute":
        # null minute means "on the hour", as the seed (which had no minute) behaved.
        return 0 if value is None else clean_int(errors, field, value, range(60), MSG_MINUTE)
    if field == "day_of_week":
        return clean_int(errors, field, value, range(7), MSG_DAY_OF_WEEK, nullable=True)
    if field == "day_of_month":
        return clean_int(errors, field, value, range(1, 32), MSG_DAY_OF_MONTH, extra=(-1,), nullable=True)
    if field == "week_of_month":
        return clean_int(errors, field, value, range(1, 5), MSG_WEEK_OF_MONTH, extra=(-1,), nullable=True)
    if field == "timezone":
        return clean_timezone(errors, field, value, business_timezone)
    if field == "recipients":
        return clean_recipients(errors, field, value)
    if field in ("include_creator_email", "skip_if_empty", "is_active"):
        return clean_bool(errors, field, value)
    if field == "email_subject":
        return clean_text(
            errors,
            field,
            value,
            max_length=255,
            long_message=MSG_SUBJECT_LONG,
            single_line=True,
            lines_message=MSG_SUBJECT_LINES,
        )
    if field == "email_message":
        return clean_text(
            errors, field, value, max_length=EMAIL_MESSAGE_MAX_LENGTH, long_message=MSG_MESSAGE_LONG
        )
    if field == "filters":
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            errors.add(field, MSG_FILTERS_OBJECT)
            return None
        return dict(value)  # checked against the export type once that is known
    raise KeyError(field)


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


def check_timing_rules(errors: ErrorCollector, values: Mapping[str, Any]) -> None:
    """The contract's day rules per frequency, on values whose single fields are already valid."""
    frequency = values.get("frequency")
    dow, dom, wom = values.get("day_of_week"), values.get("day_of_month"), values.get("week_of_month")
    if frequency == "DAILY":
        for field in DAY_FIELDS:
            if values.get(field) is not None:
                errors.add(field, msg_daily_day_field(field))
    elif frequency == "WEEKLY":
        if dow is None:
            errors.add("day_of_week", MSG_WEEKLY_NEEDS_DAY)
        for field in ("day_of_month", "week_of_month"):
            if values.get(field) is not None:
                errors.add(field, msg_weekly_day_field(field))
    elif frequency == "MONTHLY":
        if dom is not None:
            if wom is not None or dow is not None:
                errors.add(NON_FIELD, MSG_MONTHLY_BOTH)
        elif wom is not None and dow is None:
            errors.add("day_of_week", MSG_MONTHLY_WEEK_NEEDS_DAY)
        elif dow is not None and wom is None:
            errors.add("week_of_month", MSG_MONTHLY_DAY_NEEDS_WEEK)
        elif wom is None and dow is None:
            errors.add(NON_FIELD, MSG_MONTHLY_NEEDS_DAY)


def _timing_errors_free(errors: ErrorCollector) -> bool:
    return not any(field in errors.errors for field in TIMING_FIELDS)


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
    Raises ValidationError with every problem at once.
    """
    data = _require_object(data, "schedule")
    errors = ErrorCollector()
    check_unknown_fields(errors, data, SCHEDULE_FIELDS, READ_ONLY_SCHEDULE_FIELDS)
    values: dict[str, Any] = dict(current) if current is not None else _schedule_defaults(business_timezone)
    supplied: set[str] = set()
    for field in SCHEDULE_FIELDS:
        if field in data:
            supplied.add(field)
            values[field] = _clean_schedule_field(errors, field, data[field], business_timezone)
        elif field in REQUIRED_SCHEDULE_FIELDS and not partial:
            message = {"name": MSG_NAME_REQUIRED, "hour": MSG_HOUR}.get(field, MSG_REQUIRED)
            errors.add(field, message)
            values[field] = None

    if current is not None:
        _drop_conflicting_day_fields(values, supplied)
    if _timing_errors_free(errors):
        check_timing_rules(errors, values)
        if _timing_errors_free(errors) and NON_FIELD not in errors.errors:
            try:  # the calculator's own check: a rule missed above must not reach the runner
                timing_of(SimpleNamespace(**{f: values.get(f) for f in TIMING_FIELDS}))
            except ValueError as exc:
                errors.add(NON_FIELD, f"This timing is not possible: {exc}.")

    # Filters depend on the export type: checked when either is sent (and always on create), so
    # a PATCH of the name is not refused for filters that were valid when they were saved.
    if current is None or {"filters", "export_type"} & supplied:
        export_type, filters = values.get("export_type"), values.get("filters")
        if export_type is not None and filters is not None:
            try:
                values["filters"] = validate_filters(export_type, filters)
            except FilterValidationError as exc:
                errors.merge(exc.errors)

    errors.raise_if_any()
    return {field: values.get(field) for field in SCHEDULE_FIELDS}


def schedule_data_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """An HTML form's strings in the JSON types `validate_schedule` expects.

    Numbers become ints ("" becomes null; anything else stays a string, so the validator names the
    field); checkboxes become booleans (absent = false); the recipients textarea becomes a list;
    `filters.<key>` fields become the filters of the chosen export type.
    """

    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    def number(name: str) -> int | str | None:
        value = text(name).strip()
        if value == "":
            return None
        return int(value) if re.fullmatch(r"-?\d{1,6}", value) else value

    def checkbox(name: str) -> bool:
        return text(name).strip().lower() in {"y", "yes", "on", "true", "1"}

    data: dict[str, Any] = {
        "name": text("name"),
        "export_type": text("export_type"),
        "format": text("format"),
        "frequency": text("frequency"),
        "hour": number("hour"),
        "minute": number("minute") or 0,
        "day_of_week": number("day_of_week"),
        "day_of_month": number("day_of_month"),
        "week_of_month": number("week_of_month"),
        "timezone": text("timezone"),
        "recipients": split_addresses(text("recipients")),
        "include_creator_email": checkbox("include_creator_email"),
        "email_subject": text("email_subject"),
        "email_message": text("email_message"),
        "skip_if_empty": checkbox("skip_if_empty"),
        "is_active": checkbox("is_active"),
    }
    filters: dict[str, Any] = {}
    kinds = FILTER_FIELDS.get(data["export_type"].strip().upper(), {})
    for key, kind in kinds.items():
        if kind is bool:
            filters[key] = checkbox(f"filters.{key}")
        elif text(f"filters.{key}").strip():
            filters[key] = text(f"filters.{key}").strip()
    data["filters"] = filters
    return data


# --------------------------------------------------------------------------------------------
# Trigger, one-off export, preview


TRIGGER_FIELDS: tuple[str, ...] = ("send_email", "override_recipients")
ONE_OFF_FIELDS: tuple[str, ...] = ("export_type", "format", "filters", "recipients")
PREVIEW_FIELDS: tuple[str, ...] = (*TIMING_FIELDS, "after", "count")


def validate_trigger(data: object) -> dict[str, Any]:
    """`{"send_email": bool = true, "override_recipients": [addresses] | null}`.

    An empty override list means "no override" (the schedule's recipients), not "nobody": to send
    to nobody, set send_email to false.
    """
    data = _require_object(data, "request")
    errors = ErrorCollector()
    check_unknown_fields(errors, data, TRIGGER_FIELDS)
    send_email = True
    if "send_email" in data:
        send_email = clean_bool(errors, "send_email", data["send_email"])
    override = clean_recipients(errors, "override_recipients", data.get("override_recipients"))
    errors.raise_if_any()
    return {"send_email": send_email, "override_recipients": override or None}


def validate_one_off_export(data: object) -> dict[str, Any]:
    """`{"export_type", "format", "filters", "recipients"?}` for `POST /api/reports/exports/`."""
    data = _require_object(data, "export request")
    errors = ErrorCollector()
    check_unknown_fields(errors, data, ONE_OFF_FIELDS)
    cleaned: dict[str, Any] = {}
    for field in ("export_type", "format"):
        if field in data:
            cleaned[field] = _clean_schedule_field(errors, field, data[field], "UTC")
        else:
            errors.add(field, MSG_EXPORT_TYPE if field == "export_type" else MSG_FORMAT)
            cleaned[field] = None
    filters = data.get("filters")
    if filters is not None and not isinstance(filters, Mapping):
        errors.add("filters", MSG_FILTERS_OBJECT)
    elif cleaned["export_type"] is not None:
        try:
            cleaned["filters"] = validate_filters(cleaned["export_type"], dict(filters or {}))
        except FilterValidationError as exc:
            errors.merge(exc.errors)
    cleaned["recipients"] = clean_recipients(errors, "recipients", data.get("recipients"))
    errors.raise_if_any()
    return cleaned


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
    except OverflowError:
        return None


def validate_preview(data: object, business_timezone: str, *, now: datetime | None = None) -> PreviewRequest:
    """The timing fields (as on a schedule), `after` (ISO 8601, default now) and `count` (1-50, 5)."""
    data = _require_object(data, "preview request")
    errors = ErrorCollector()
    check_unknown_fields(errors, data, PREVIEW_FIELDS)
    values = _schedule_defaults(business_timezone)
    for field in TIMING_FIELDS:
        if field in data:
            values[field] = _clean_schedule_field(errors, field, data[field], business_timezone)
        elif field in REQUIRED_SCHEDULE_FIELDS:
            errors.add(field, MSG_HOUR if field == "hour" else MSG_REQUIRED)
    if _timing_errors_free(errors):
        check_timing_rules(errors, values)

    after = now or datetime.now(UTC)
    raw_after = data.get("after")
    if raw_after not in (None, ""):
        zone = ZoneInfo(values["timezone"] if values.get("timezone") else "UTC")
        parsed = _parse_instant(raw_after, zone) if isinstance(raw_after, str) else None
        if parsed is None:
            errors.add("after", MSG_AFTER)
        else:
            after = parsed

    count = DEFAULT_PREVIEW_COUNT
    if data.get("count") is not None:
        count = clean_int(errors, "count", data["count"], range(1, MAX_PREVIEW_COUNT + 1), MSG_COUNT)

    timing = None
    if not errors:
        try:
            timing = timing_of(SimpleNamespace(**{f: values[f] for f in TIMING_FIELDS}))
        except ValueError as exc:
            errors.add(NON_FIELD, f"This timing is not possible: {exc}.")
    errors.raise_if_any()
    assert timing is not None and count is not None
    return PreviewRequest(timing=timing, after=after, count=count)


# --------------------------------------------------------------------------------------------
# Notification settings


NOTIFICATION_FIELDS: tuple[str, ...] = (
    "notify_on_success",
    "notify_on_failure",
    "default_recipients",
    "from_name",
    "reply_to_email",
    "allowed_recipient_domains",
)
# Returned by GET; sent back (a GET-modify-PUT), it is ignored like a schedule's read-only fields.
NOTIFICATION_READ_ONLY_FIELDS: frozenset[str] = frozenset({"updated_at"})


def validate_notification_settings(data: object, current: Mapping[str, Any]) -> dict[str, Any]:
    """Every notification field, cleaned; fields left out keep their `current` values."""
    data = _require_object(data, "notification settings")
    errors = ErrorCollector()
    check_unknown_fields(errors, data, NOTIFICATION_FIELDS, NOTIFICATION_READ_ONLY_FIELDS)
    values = dict(current)
    for field in NOTIFICATION_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field in ("notify_on_success", "notify_on_failure"):
            values[field] = clean_bool(errors, field, value)
        elif field == "default_recipients":
            values[field] = clean_recipients(errors, field, value)
        elif field == "allowed_recipient_domains":
            domains, problems = addresses.clean_domains(value)
            for problem in problems:
                errors.add(field, problem)
            values[field] = domains
        elif field == "from_name":
            values[field] = clean_text(
                errors,
                field,
                value,
                max_length=255,
                long_message=MSG_FROM_NAME_LONG,
                single_line=True,
                lines_message=MSG_FROM_NAME_LINES,
            )
        else:
            values[field] = clean_email(errors, field, value)
    errors.raise_if_any()
    return {field: values.get(field) for field in NOTIFICATION_FIELDS}


# --------------------------------------------------------------------------------------------
# List query parameters (strings from a query string; ints are accepted from the CLI)


def _param(args: Mapping[str, Any], name: str) -> Any:
    value = args.get(name)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _positive_int(errors: ErrorCollector, field: str, value: Any, message: str) -> int | None:
    if _is_int(value):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,9}", value):
        number = int(value)
    else:
        errors.add(field, message)
        return None
    if number < 1:
        errors.add(field, message)
        return None
    return number


def _pagination(errors: ErrorCollector, args: Mapping[str, Any]) -> dict[str, int]:
    page, page_size = 1, DEFAULT_PAGE_SIZE
    if (raw := _param(args, "page")) is not None:
        page = _positive_int(errors, "page", raw, MSG_PAGE) or 1
    if (raw := _param(args, "page_size")) is not None:
        page_size = min(_positive_int(errors, "page_size", raw, MSG_PAGE_SIZE) or 1, MAX_PAGE_SIZE)
    return {"page": page, "page_size": page_size}


def _date_param(errors: ErrorCollector, field: str, value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.add(field, MSG_DATE)
    return None


def validate_history_params(args: Mapping[str, Any]) -> dict[str, Any]:
    """History list parameters -> {"export_type", "format", "status", "trigger", "schedule_id"
    (UUID), "start_date", "end_date" (dates), "page", "page_size", "cursor" (a keyset Cursor)};
    absent ones are None. `page_size` defaults to 20 and is clamped to 100. Empty values count as
    absent. A cursor comes from a list's next/previous link; it and `page` exclude each other."""
    errors = ErrorCollector()
    result: dict[str, Any] = dict.fromkeys(
        ("export_type", "format", "status", "trigger", "schedule_id", "start_date", "end_date")
    )
    choices = {
        "export_type": (EXPORT_TYPES, MSG_EXPORT_TYPE, True),
        "format": (FORMATS, MSG_FORMAT, False),
        "status": (STATUSES, MSG_STATUS, True),
        "trigger": (TRIGGERS, MSG_TRIGGER, True),
    }
    for field, (allowed, message, upper) in choices.items():
        if (raw := _param(args, field)) is not None:
            result[field] = _clean_choice(errors, field, raw, allowed, message, upper=upper)
    if (raw := _param(args, "schedule_id")) is not None:
        try:
            result["schedule_id"] = uuid.UUID(str(raw))
        except ValueError:
            errors.add("schedule_id", MSG_SCHEDULE_ID)
    for field in ("start_date", "end_date"):
        if (raw := _param(args, field)) is not None:
            result[field] = _date_param(errors, field, raw)
    if result["start_date"] and result["end_date"] and result["start_date"] > result["end_date"]:
        errors.add("end_date", MSG_END_BEFORE_START)
    result.update(_pagination(errors, args))
    result["cursor"] = None
    if (raw := _param(args, "cursor")) is not None:
        if _param(args, "page") is not None:
            errors.add("cursor", MSG_CURSOR_AND_PAGE)
        else:
            try:
                result["cursor"] = decode_cursor(raw)
            except InvalidCursor:
                errors.add("cursor", MSG_CURSOR)
    errors.raise_if_any()
    return result


def validate_schedule_list_params(args: Mapping[str, Any]) -> dict[str, Any]:
    """Schedule list parameters -> {"is_active" (bool|None), "export_type", "frequency", "search",
    "page", "page_size"}."""
    errors = ErrorCollector()
    result: dict[str, Any] = {"is_active": None, "export_type": None, "frequency": None, "search": None}
    if (raw := _param(args, "is_active")) is not None:
        if isinstance(raw, bool):
            result["is_active"] = raw
        elif isinstance(raw, str) and raw.lower() in {"true", "1", "yes"}:
            result["is_active"] = True
        elif isinstance(raw, str) and raw.lower() in {"false", "0", "no"}:
            result["is_active"] = False
        else:
            errors.add("is_active", MSG_BOOLEAN)
    if (raw := _param(args, "export_type")) is not None:
        result["export_type"] = _clean_choice(
            errors, "export_type", raw, EXPORT_TYPES, MSG_EXPORT_TYPE, upper=True
        )
    if (raw := _param(args, "frequency")) is not None:
        result["frequency"] = _clean_choice(errors, "frequency", raw, FREQUENCIES, MSG_FREQUENCY, upper=True)
    if (raw := _param(args, "search")) is not None:
        result["search"] = str(raw)[:255]
    result.update(_pagination(errors, args))
    errors.raise_if_any()
    return result
