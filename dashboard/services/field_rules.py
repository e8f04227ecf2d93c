"""The rules across fields, each with its check (the messages people read) and, where JSON Schema can
say it, the same rule as `if`/`then`/`oneOf` for the OpenAPI document.

- Timing: a frequency takes only the day fields declared for it (`Field.frequencies`), and needs
  its day given one of the ways in `DAY_WAYS` (WEEKLY: a day of the week; MONTHLY: a day of the
  month, or a week of the month with a day of the week).
- Filters by export type (`exports.filters.FILTER_FIELDS`): the keys each type takes, and a period
  for the types that cover one. start_date <= end_date is the one rule JSON Schema cannot say.

An update (PUT/PATCH) is merged onto the stored schedule before the rules run, so the document's
"partial" form of a rule holds only what the sent fields decide alone; `conflicts_alone` is that
same form in Python. A merged result that breaks a rule the request alone did not break conflicts
with what is stored: the API answers 409 (`StateConflict`), not 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.core.errors import NON_FIELD, ErrorCollector
from dashboard.exports.filters import (
    DATE_RANGES,
    FILTER_FIELDS,
    PERIOD_TYPES,
    FilterValidationError,
    validate_filters,
)
from dashboard.services.field_kinds import BLANK
from dashboard.services.fields import Field, Rule

DAY_FIELDS: tuple[str, ...] = ("day_of_week", "day_of_month", "week_of_month")
# The ways each frequency's day is given (MONTHLY: a day of the month, or "2nd Tuesday").
DAY_WAYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "DAILY": (),
    "WEEKLY": (("day_of_week",),),
    "MONTHLY": (("day_of_month",), ("week_of_month", "day_of_week")),
}

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

_NULL = {"type": "null"}
_INTEGER = {"type": "integer"}


def msg_daily_day_field(field: str) -> str:
    return f"Daily schedules run every day: remove {field}."


def msg_weekly_day_field(field: str) -> str:
    return f"Weekly schedules run on a day of the week: remove {field}."


def _when(field: str, value: str) -> dict[str, Any]:
    return {"properties": {field: {"const": value}}, "required": [field]}


# --------------------------------------------------------------------------------------------
# Timing


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


def timing_schema(day_fields: Mapping[str, Field], partial: bool) -> list[dict[str, Any]]:
    """The timing rules as JSON Schema, from each day field's declared frequencies and `DAY_WAYS`."""
    entries: list[dict[str, Any]] = []
    for frequency, ways in DAY_WAYS.items():
        mine = [n for n, f in day_fields.items() if not f.frequencies or frequency in f.frequencies]
        then: dict[str, Any] = {"properties": {n: _NULL for n in day_fields if n not in mine}}
        if ways and not partial:
            then["oneOf"] = [
                {"required": list(way), "properties": {n: _INTEGER if n in way else _NULL for n in mine}}
                for way in ways
            ]
        elif len(ways) == 1:  # partial: the one way's fields, when sent, are not null
            then["properties"].update({n: _INTEGER for n in ways[0]})
        if then["properties"] or "oneOf" in then:
            entries.append({"if": _when("frequency", frequency), "then": then})
    if partial:  # a day of the month excludes the other day fields, whatever the stored frequency
        entries.append(
            {
                "if": {"required": ["day_of_month"], "properties": {"day_of_month": _INTEGER}},
                "then": {"properties": {"day_of_week": _NULL, "week_of_month": _NULL}},
            }
        )
    return entries


def timing_conflicts_alone(values: Mapping[str, Any], supplied: set[str]) -> bool:
    """True when the sent timing fields break a rule whatever is stored (`timing_schema(partial)`)."""

    def sent(name: str) -> bool:
        return name in supplied and values.get(name) is not None

    frequency = values.get("frequency") if "frequency" in supplied else None
    ways = DAY_WAYS.get(frequency or "", ())
    if frequency is not None:
        allowed = {name for way in ways for name in way}
        if any(sent(name) for name in DAY_FIELDS if name not in allowed):
            return True
        if len(ways) == 1 and any(name in supplied and not sent(name) for name in ways[0]):
            return True
    return sent("day_of_month") and (sent("day_of_week") or sent("week_of_month"))


def timing_rule(day_fields: Mapping[str, Field]) -> Rule:
    return Rule("timing", check_timing_rules, lambda partial: timing_schema(day_fields, partial))


# --------------------------------------------------------------------------------------------
# Filters by export type


def filter_properties(export_type: str | None = None) -> dict[str, Any]:
    """The filters' JSON Schema properties: of one export type, or of all of them."""
    kinds: dict[str, type] = {}
    for kind, fields in FILTER_FIELDS.items():
        if export_type in (None, kind):
            kinds.update(fields)
    properties: dict[str, Any] = {}
    for key, kind in kinds.items():
        if kind is bool:
            properties[key] = {"type": ["boolean", "null"]}
        elif key == "date_range":
            properties[key] = {"anyOf": [{"type": "string", "enum": list(DATE_RANGES)}, BLANK, _NULL]}
        else:
            properties[key] = {"anyOf": [{"type": "string", "format": "date"}, BLANK, _NULL]}
    return properties


def _given(key: str) -> dict[str, Any]:
    # null and blank count as left out.
    return {"required": [key], "properties": {key: {"type": "string", "pattern": r"\S"}}}


def _period() -> list[dict[str, Any]]:
    not_given = [{"not": _given(key)} for key in ("date_range", "start_date", "end_date")]
    return [
        {"allOf": [_given("date_range"), not_given[1], not_given[2]]},
        {"allOf": [not_given[0], _given("start_date"), _given("end_date")]},
    ]


def filters_schema(partial: bool) -> list[dict[str, Any]]:
    """Each export type's filters; the period types need a period (start <= end is not said)."""
    entries = []
    for export_type in FILTER_FIELDS:
        needs_period = export_type in PERIOD_TYPES
        filters: dict[str, Any] = {
            "type": "object" if needs_period else ["object", "null"],
            "properties": filter_properties(export_type),
            "additionalProperties": False,
        }
        if needs_period:
            filters["oneOf"] = _period()
        then: dict[str, Any] = {"properties": {"filters": filters}}
        if needs_period and not partial:
            then["required"] = ["filters"]
        entries.append({"if": _when("export_type", export_type), "then": then})
    return entries


def check_filters(errors: ErrorCollector, values: Mapping[str, Any]) -> None:
    """The filters against the export type (both already valid on their own), cleaned in place."""
    export_type, filters = values.get("export_type"), values.get("filters")
    if export_type is None or filters is None:
        return
    try:
        cleaned = validate_filters(export_type, filters)
    except FilterValidationError as exc:
        errors.merge(exc.errors)
    else:
        if isinstance(values, dict):
            values["filters"] = cleaned


def filters_conflict_alone(values: Mapping[str, Any], supplied: set[str]) -> bool:
    """True when the sent filters are wrong for the sent export type, whatever is stored."""
    if not {"export_type", "filters"} <= supplied:
        return False
    probe = ErrorCollector()
    check_filters(probe, dict(values))
    return bool(probe)


FILTERS_RULE = Rule("filters", check_filters, filters_schema)


# --------------------------------------------------------------------------------------------
# Formats (contract section 6: `formats` is every format a run makes; `format` is the first)

MSG_FORMAT_REQUIRED = "Choose a format: excel, csv or pdf."
MSG_FORMAT_NOT_FIRST = "The format must be the first of the formats."


def check_formats(
    errors: ErrorCollector, values: dict[str, Any], supplied: set[str], *, partial: bool = False
) -> None:
    """`format` or `formats` given (unless `partial`); `formats` sets `format` to its first (both
    sent: they must agree); `format` sent alone means that one format. One format is stored as no
    list (`formats` null: just `format`)."""
    # A null is no answer: `"formats": null` alone leaves the schedule without a format.
    given = {name for name in ("format", "formats") if name in supplied and values.get(name) is not None}
    if not partial and not given:
        if "format" not in errors.errors:
            errors.add("format", MSG_FORMAT_REQUIRED)
        return
    if "format" in errors.errors or "formats" in errors.errors:
        return
    formats = values.get("formats")
    if "formats" in supplied and formats:
        if "format" in supplied and values.get("format") != formats[0]:
            errors.add("format", MSG_FORMAT_NOT_FIRST)
            return
        values["format"] = formats[0]
    elif "format" in supplied:
        values["formats"] = None
    if values.get("formats") is not None and len(values["formats"]) <= 1:
        values["formats"] = None


# A request that must name its format (a new schedule, a replace): `format` or `formats`, not null.
FORMAT_REQUIRED_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"required": ["format"], "properties": {"format": {"type": "string"}}},
        {"required": ["formats"], "properties": {"formats": {"type": "array"}}},
    ]
}


def formats_schema(partial: bool) -> list[dict[str, Any]]:
    """FORMAT_REQUIRED_SCHEMA unless `partial`. That `format`, sent with `formats`, is its first
    is said in words (the fields' descriptions): JSON Schema states it only with `prefixItems`,
    which the generators of schemathesis and Hypothesis cannot read."""
    return [] if partial else [FORMAT_REQUIRED_SCHEMA]


FORMATS_RULE = Rule("formats", check_formats, formats_schema)
