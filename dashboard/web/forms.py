"""The schedule, export and notification-settings pages' forms: thin Flask-WTF `FlaskForm`s built
from the fields declared once in `services.field_sets`, and the shape of the pages around them.

No rule lives here. Each declared field becomes a form field of its kind (a select for a choice, a
checkbox, a list typed one per line, text), labelled as declared, whose validator is the declared
field's own rule with its declared message; `payload()` turns the strings into the JSON the API
takes, and the services validate that (with the rules across fields) in the same words. What is
here besides: which day fields the chosen frequency shows, the values a re-rendered form shows as
typed, and the initial values of fields not rendered yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms import Field as FormField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError as FormFieldError

from dashboard.automation.calculator import WEEKDAY_NAMES
from dashboard.core.errors import ErrorCollector
from dashboard.core.labels import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.exports.filters import DATE_RANGES, FILTER_FIELDS
from dashboard.models.automation import EXPORT_TYPES, FORMATS
from dashboard.services.field_sets import FREQUENCY_LABELS, NOTIFICATIONS, ONE_OFF, SCHEDULE
from dashboard.services.fields import TRUTHY, Context, Field, FieldSet, form_value
from dashboard.services.schedule_words import period_for_frequency
from dashboard.services.validation import (
    clean_email,
    filters_from_form,
    is_timezone_name,
    max_recipients,
    split_addresses,
)
from dashboard.web.once import OnceRegistry, new_nonce, once

__all__ = ["OnceRegistry", "new_nonce", "once"]  # the double-submit guard, used beside the forms

CUSTOM_DATES = "custom"
MONTHLY_BY_DAY = "day"
MONTHLY_BY_WEEKDAY = "weekday"

FREQUENCY_CHOICES = [(value, FREQUENCY_LABELS[value]) for value in SCHEDULE["frequency"].kind.choices]  # type: ignore[attr-defined]
WEEKDAY_CHOICES = [(str(i), name) for i, name in enumerate(WEEKDAY_NAMES)]
WEEK_OF_MONTH_CHOICES = [("1", "1st"), ("2", "2nd"), ("3", "3rd"), ("4", "4th"), ("-1", "Last")]
DAY_OF_MONTH_CHOICES = [(str(d), f"Day {d}") for d in range(1, 32)] + [("-1", "Last day of the month")]
EXPORT_TYPE_CHOICES = [(t, EXPORT_TYPE_LABELS[t]) for t in EXPORT_TYPES]
FORMAT_CHOICES = [(f, FORMAT_LABELS[f]) for f in FORMATS]
DATE_RANGE_CHOICES = list(DATE_RANGES.items()) + [(CUSTOM_DATES, "Custom dates…")]
FILTER_LABELS = {
    "include_credit_history": "Include credit history (charges, payments, last credit date)",
    "exclude_zero_value": "Leave out products with no stock value",
}
# Where the error summary at the top of a form sends the person for each field.
FIELD_ANCHORS: dict[str, tuple[str, str]] = {
    "name": ("name", "Name"),
    "export_type": ("export_type", "Export type"),
    "format": ("format", "File format"),
    "filters": ("filters", "Filters"),
    "filters.date_range": ("filters-date_range", "Period"),
    "filters.start_date": ("filters-start_date", "From"),
    "filters.end_date": ("filters-end_date", "To"),
    "frequency": ("frequency", "How often"),
    "hour": ("hour", "Hour"),
    "minute": ("minute", "Minute"),
    "day_of_week": ("day_of_week", "Day of the week"),
    "day_of_month": ("day_of_month", "Day of the month"),
    "week_of_month": ("week_of_month", "Which week"),
    "timezone": ("timezone", "Timezone"),
    "recipients": ("recipient-list", "Recipients"),
    "default_recipients": ("default-recipient-list", "Send these notices to"),
    "email_subject": ("email_subject", "E-mail subject"),
    "email_message": ("email_message", "Message"),
    "from_name": ("from_name", "Sender name"),
    "reply_to_email": ("reply_to_email", "Reply-to address"),
    "allowed_recipient_domains": ("allowed_recipient_domains", "Only send to these domains"),
}
# An address is at most 254 characters: a longer "address" is shown cut, not echoed whole.
MAX_ECHOED_ADDRESS = 260
TIMING_KEYS = ("frequency", "hour", "minute", "day_of_week", "day_of_month", "week_of_month", "timezone")


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    from zoneinfo import available_timezones

    return tuple(sorted(name for name in available_timezones() if is_timezone_name(name)))


def _text(form: Mapping[str, Any], name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def _checked(form: Mapping[str, Any], name: str) -> bool:
    return _text(form, name).lower() in {"y", "yes", "on", "true", "1"}


# --------------------------------------------------------------------------------------------
# FlaskForms from the declarations


class Declared:
    """A form field's validator: the declared field's own rule, with its declared message."""

    def __init__(self, declared: Field) -> None:
        self.declared = declared

    def __call__(self, form: DeclaredForm, field: FormField) -> None:
        errors = ErrorCollector()
        value = form_value(self.declared, field.data if isinstance(field.data, str) else None)
        if isinstance(field.data, bool):
            value = field.data
        self.declared.clean(errors, value, Context(form.business_timezone))
        for message in errors.errors.get(self.declared.name, []):
            raise FormFieldError(message)


class Checkbox(BooleanField):
    """Checked when the browser sends y/yes/on/true/1 (the declared checkbox reading)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = bool(valuelist) and str(valuelist[0]).strip().lower() in TRUTHY


class ListField(TextAreaField):
    """A list typed one per line, possibly over several inputs of the same name (recipient rows)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = "\n".join(str(value) for value in valuelist)


class DeclaredForm(FlaskForm):
    """A form whose fields are the declared fields of `fieldset` (see `declared_form`)."""

    class Meta:
        csrf = False  # CSRFProtect checks every POST before any view runs

        def get_translations(self, form):  # the messages are the declared ones, in English
            return None

    fieldset: FieldSet
    business_timezone = "UTC"

    def declared_fields(self) -> list[Field]:
        return [f for f in self.fieldset.fields if f.name in self._fields]

    def payload(self) -> dict[str, Any]:
        """The form's values in the JSON types the API (and the services) take."""
        result: dict[str, Any] = {}
        for declared in self.declared_fields():
            data = self[declared.name].data
            result[declared.name] = data if isinstance(data, bool) else form_value(declared, data)
        return result


def _form_field(declared: Field) -> FormField:
    label, validators = declared.label or declared.name, [Declared(declared)]
    kind = declared.kind.form
    if kind == "choice":
        labels = getattr(declared.kind, "labels", {})
        choices = [SelectChoice(c, labels.get(c, c)) for c in declared.kind.choices]  # type: ignore[attr-defined]
        return SelectField(label, choices=choices, validate_choice=False, validators=validators)
    if kind == "checkbox":
        return Checkbox(label, validators=validators)
    if kind == "list":
        return ListField(label, validators=validators)
    if getattr(declared.kind, "single_line", True) is False:
        return TextAreaField(label, validators=validators)
    return StringField(label, validators=validators)


def declared_form(fieldset: FieldSet, *, skip: tuple[str, ...] = ()) -> type[DeclaredForm]:
    """A FlaskForm class with one form field per declared field of `fieldset` (but `skip`)."""
    attributes: dict[str, Any] = {"fieldset": fieldset}
    for declared in fieldset.fields:
        if declared.name not in skip and declared.kind.form != "none":
            attributes[declared.name] = _form_field(declared)
    name = "".join(part.title() for part in fieldset.name.split("_")) + "Form"
    return type(name, (DeclaredForm,), attributes)


ScheduleForm = declared_form(SCHEDULE)  # filters: the export type's own inputs, read below
ExportForm = declared_form(ONE_OFF)
NotificationSettingsForm = declared_form(NOTIFICATIONS)


# --------------------------------------------------------------------------------------------
# Schedules


def new_schedule_values(business_timezone: str) -> dict[str, Any]:
    """What a new schedule form starts with: the common case, yesterday's sales as Excel every
    morning at 7 (issue 20: the old weekly-at-08-with-no-period defaults cost 8 clicks)."""
    return {
        "name": "",
        "export_type": "SALES",
        "format": "excel",
        "also_formats": [],
        "frequency": "DAILY",
        "monthly_mode": MONTHLY_BY_DAY,
        "hour": "07",
        "minute": "00",
        "day_of_week": "0",
        "day_of_month": "1",
        "week_of_month": "1",
        "timezone": business_timezone,
        "recipients": [],
        "include_creator_email": True,
        "email_subject": "",
        "email_message": "",
        "filters": {"date_range": period_for_frequency("DAILY")},
        "date_mode": period_for_frequency("DAILY"),
        "skip_if_empty": False,
        "is_active": True,
    }


def schedule_form_values(schedule_values: Mapping[str, Any]) -> dict[str, Any]:
    """A saved schedule (`services.schedules.schedule_values`) as the form shows it."""
    filters = dict(schedule_values.get("filters") or {})

    def as_text(value: Any, default: str) -> str:
        return default if value is None else str(value)

    return {
        "name": schedule_values.get("name") or "",
        "export_type": schedule_values.get("export_type") or "SALES",
        "format": schedule_values.get("format") or "excel",
        "also_formats": list(schedule_values.get("formats") or [])[1:],
        "frequency": schedule_values.get("frequency") or "DAILY",
        "monthly_mode": MONTHLY_BY_WEEKDAY
        if schedule_values.get("week_of_month") is not None
        else MONTHLY_BY_DAY,
        "hour": _two_digits(schedule_values.get("hour")),
        "minute": _two_digits(schedule_values.get("minute")),
        "day_of_week": as_text(schedule_values.get("day_of_week"), "0"),
        "day_of_month": as_text(schedule_values.get("day_of_month"), "1"),
        "week_of_month": as_text(schedule_values.get("week_of_month"), "1"),
        "timezone": schedule_values.get("timezone") or "UTC",
        "recipients": list(schedule_values.get("recipients") or []),
        "include_creator_email": bool(schedule_values.get("include_creator_email")),
        "email_subject": schedule_values.get("email_subject") or "",
        "email_message": schedule_values.get("email_message") or "",
        "filters": filters,
        "date_mode": _date_mode(filters),
        "skip_if_empty": bool(schedule_values.get("skip_if_empty")),
        "is_active": bool(schedule_values.get("is_active")),
    }


def _two_digits(value: Any) -> str:
    """08 rather than 8 (the form shows a 24-hour clock)."""
    return (
        f"{value:02d}" if isinstance(value, int) and value >= 0 else ("00" if value is None else str(value))
    )


def _date_mode(filters: Mapping[str, Any]) -> str:
    if filters.get("date_range"):
        return str(filters["date_range"])
    if filters.get("start_date") or filters.get("end_date"):
        return CUSTOM_DATES
    return ""


def _filter_values(form: Mapping[str, Any], export_type: str) -> tuple[dict[str, Any], str]:
    """The export type's filter fields as typed, and the date mode ("", a range, or custom)."""
    filters: dict[str, Any] = {}
    kinds = FILTER_FIELDS.get(export_type, {})
    date_mode = _text(form, "filters.date_range")
    for key, kind in kinds.items():
        if kind is bool:
            filters[key] = _checked(form, f"filters.{key}")
        elif key in ("start_date", "end_date"):
            filters[key] = _text(form, f"filters.{key}")
    if "date_range" in kinds and date_mode and date_mode != CUSTOM_DATES:
        filters["date_range"] = date_mode
    return filters, date_mode if "date_range" in kinds else ""


def schedule_form_from_request(form: MultiDict, business_timezone: str) -> dict[str, Any]:
    """The schedule form as submitted (or as it stands when htmx re-renders a part of it).

    Day fields that the chosen frequency shows but that are not in the form yet (the person just
    switched frequency and the fieldset is being re-rendered) take their initial values, so the
    preview and the re-rendered fieldset agree whichever answer arrives first.
    """
    defaults = new_schedule_values(business_timezone)
    export_type = _text(form, "export_type", "SALES").upper() or "SALES"
    filters, date_mode = _filter_values(form, export_type)
    values: dict[str, Any] = {
        "name": _text(form, "name"),
        "export_type": export_type,
        "format": _text(form, "format") or "excel",
        "also_formats": also_formats(form),
        "frequency": _text(form, "frequency").upper() or "DAILY",
        "monthly_mode": _text(form, "monthly_mode") or MONTHLY_BY_DAY,
        "hour": _text(form, "hour"),
        "minute": _text(form, "minute"),
        "timezone": _text(form, "timezone"),
        "recipients": [address for raw in form.getlist("recipients") for address in split_addresses(raw)],
        "include_creator_email": _checked(form, "include_creator_email"),
        "email_subject": form.get("email_subject", ""),
        "email_message": form.get("email_message", ""),
        "filters": filters,
        "date_mode": date_mode,
        "skip_if_empty": _checked(form, "skip_if_empty"),
        "is_active": _checked(form, "is_active"),
    }
    for key in ("day_of_week", "day_of_month", "week_of_month"):
        values[key] = _text(form, key) if key in form else defaults[key]
    return values


def shown_day_fields(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The day fields the form shows for this frequency (and monthly mode)."""
    frequency = values.get("frequency")
    if frequency == "WEEKLY":
        return ("day_of_week",)
    if frequency == "MONTHLY":
        if values.get("monthly_mode") == MONTHLY_BY_WEEKDAY:
            return ("week_of_month", "day_of_week")
        return ("day_of_month",)
    return ()


def _flat_form(values: Mapping[str, Any]) -> dict[str, str]:
    """The form values flattened into the strings `schedule_data_from_form` reads."""
    shown = shown_day_fields(values)
    flat: dict[str, str] = {
        "name": values.get("name", ""),
        "export_type": values.get("export_type", ""),
        "format": values.get("format", ""),
        "formats": "\n".join(formats_of_form(values)),
        "frequency": values.get("frequency", ""),
        "hour": values.get("hour", ""),
        "minute": values.get("minute", ""),
        "timezone": values.get("timezone", ""),
        "recipients": "\n".join(values.get("recipients") or []),
        "include_creator_email": "y" if values.get("include_creator_email") else "",
        "email_subject": values.get("email_subject", ""),
        "email_message": values.get("email_message", ""),
        "skip_if_empty": "y" if values.get("skip_if_empty") else "",
        "is_active": "y" if values.get("is_active") else "",
    }
    for key in ("day_of_week", "day_of_month", "week_of_month"):
        flat[key] = values.get(key, "") if key in shown else ""
    for key, value in (values.get("filters") or {}).items():
        if isinstance(value, bool):
            flat[f"filters.{key}"] = "y" if value else ""
        else:
            flat[f"filters.{key}"] = str(value)
    return flat


def schedule_payload(values: Mapping[str, Any]) -> dict[str, Any]:
    """The payload `services.schedules.create_schedule/update_schedule` take (the API's JSON)."""
    flat = _flat_form(values)
    form = ScheduleForm(formdata=MultiDict(flat))
    payload = form.payload()
    payload["filters"] = filters_from_form(flat, payload["export_type"])
    payload["formats"] = payload.get("formats") or None  # no format chosen: `format` says so
    return payload


def preview_payload(values: Mapping[str, Any]) -> dict[str, Any]:
    """The timing fields of the form, as `services.schedules.preview_occurrences` takes them."""
    payload = schedule_payload(values)
    return {key: payload.get(key) for key in TIMING_KEYS}


def errors_by_field(errors: Mapping[str, list[str]], values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Service errors keyed for the form: a day field the form does not show (the service names it
    for an API client) is shown with the form's general errors, never lost."""
    shown = set(shown_day_fields(values))
    result: dict[str, list[str]] = {}
    for field, messages in errors.items():
        key = field
        if field in ("day_of_week", "day_of_month", "week_of_month") and field not in shown:
            key = "non_field_errors"
        result.setdefault(key, []).extend(messages)
    return result


def address_errors(
    addresses: list[str], errors: dict[str, list[str]], field: str
) -> tuple[list[list[str]], dict[str, list[str]]]:
    """After a failed save: each address's own messages (shown beside its box, from the same
    check the as-you-type endpoint runs) and the errors left for the list as a whole (the cap).

    A list over MAX_RECIPIENTS is cut to its first MAX_RECIPIENTS addresses in place, and none is
    checked: 40,000 pasted addresses once came back as a 30 MB page after 6 s of checks (issue 15).
    """
    limit = max_recipients()
    for index, address in enumerate(addresses):
        if len(address) > MAX_ECHOED_ADDRESS:  # no address is this long: show its start only
            addresses[index] = address[:MAX_ECHOED_ADDRESS] + "…"
    if len(addresses) > limit:
        dropped = len(addresses) - limit
        del addresses[limit:]
        remaining = dict(errors)
        remaining[field] = [
            *errors.get(field, []),
            f"Only the first {limit} are shown below; the other {dropped:,} were left out.",
        ]
        return [[] for _ in addresses], remaining
    if not errors.get(field):
        return [[] for _ in addresses], errors
    per_address = []
    shown: set[str] = set()
    for address in addresses:
        collector = ErrorCollector()
        clean_email(collector, field, address)
        messages = collector.errors.get(field, [])
        shown.update(messages)
        per_address.append(messages)
    remaining = dict(errors)
    left = [message for message in errors[field] if message not in shown]
    if left:
        remaining[field] = left
    else:
        remaining.pop(field)
    return per_address, remaining


# --------------------------------------------------------------------------------------------
# One-off exports


def also_formats(form: MultiDict) -> list[str]:
    """The "Also as" checkboxes: the formats made besides the chosen one."""
    return [fmt for fmt in FORMATS if fmt in form.getlist("also_formats")]


def formats_of_form(values: Mapping[str, Any]) -> list[str]:
    """Every format the form asks for: the chosen one first, then the "Also as" ones."""
    first = values.get("format") or ""
    return [first, *(fmt for fmt in values.get("also_formats") or [] if fmt != first)]


def export_form_from_request(form: MultiDict) -> dict[str, Any]:
    export_type = _text(form, "export_type", "SALES").upper() or "SALES"
    filters, date_mode = _filter_values(form, export_type)
    return {
        "export_type": export_type,
        "format": _text(form, "format") or "excel",
        "also_formats": also_formats(form),
        "filters": filters,
        "date_mode": date_mode,
        "recipients": [address for raw in form.getlist("recipients") for address in split_addresses(raw)],
    }


def export_period_hint(business_timezone: str) -> str:
    return f"“Previous week” and the like are worked out when you press Run, in {business_timezone}."


def new_export_values() -> dict[str, Any]:
    return {
        "export_type": "SALES",
        "format": "excel",
        "also_formats": [],
        "filters": {},
        "date_mode": "",
        "recipients": [],
    }


def export_payload(values: Mapping[str, Any]) -> dict[str, Any]:
    """`{"export_type", "format", "filters", "recipients"}` as the one-off export API takes it."""
    flat = MultiDict(
        {
            "export_type": values.get("export_type") or "",
            "format": values.get("format") or "",
            "formats": "\n".join(formats_of_form(values)),
            "recipients": "\n".join(values.get("recipients") or []),
        }
    )
    payload = ExportForm(formdata=flat).payload()
    payload["formats"] = payload.get("formats") or None
    payload["filters"] = {
        key: value for key, value in (values.get("filters") or {}).items() if isinstance(value, bool) or value
    }
    return payload
