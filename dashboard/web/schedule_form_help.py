"""What makes the schedule form help: a start from a recipe or a saved preset, the sentence above
the preview, the period warning, a suggested name, and each field's errors as it changes.

The live check runs the services' own validation on the whole form and reports only the fields
the person has touched (all of them after a failed save), so an untouched field never shouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.core.errors import NON_FIELD, ValidationError
from dashboard.exports.filters import FILTER_FIELDS
from dashboard.models.pos import Business
from dashboard.models.presets import SchedulePreset
from dashboard.services import schedule_words
from dashboard.services.recipes import Recipe
from dashboard.services.timezones import resolve_timezone
from dashboard.services.validation import validate_schedule
from dashboard.web import forms

# Checked beside their own boxes as they are typed (one request per address): not repeated here.
_CHECKED_ELSEWHERE = frozenset({"recipients"})


def read_form(form: Mapping[str, Any], business: Business) -> dict[str, Any]:
    """The schedule form as sent, with a city typed in the timezone box read as its zone."""
    values = forms.schedule_form_from_request(form, business.timezone)
    values["timezone"] = resolve_timezone(values["timezone"]) or values["timezone"]
    return values


def values_from_recipe(recipe: Recipe, business: Business) -> dict[str, Any]:
    body = recipe.schedule_body()
    body.setdefault("timezone", business.timezone)
    return forms.schedule_form_values(body)


def values_from_preset(preset: SchedulePreset, business: Business) -> dict[str, Any]:
    """A new schedule of the preset's what and filters, at the new form's usual time."""
    start = forms.new_schedule_values(business.timezone)
    filters = dict(preset.filters or {})
    if "date_range" in FILTER_FIELDS.get(preset.export_type, {}) and not (
        filters.get("date_range") or filters.get("start_date")
    ):
        filters["date_range"] = schedule_words.period_for_frequency(start["frequency"])
    return forms.schedule_form_values(
        {
            "name": preset.name,
            "export_type": preset.export_type,
            "format": (preset.formats or ["excel"])[0],
            "frequency": start["frequency"],
            "hour": int(start["hour"]),
            "minute": int(start["minute"]),
            "timezone": business.timezone,
            "include_creator_email": True,
            "filters": filters,
            "is_active": True,
        }
    )


def sentence(values: Mapping[str, Any], preview: Mapping[str, Any]) -> str:
    """The sentence above the preview (empty while the timing cannot be computed)."""
    if preview.get("errors") or not preview.get("runs"):
        return ""
    payload = forms.schedule_payload(values)
    payload["timezone"] = preview["timezone"]
    return schedule_words.schedule_sentence(payload, preview["runs"][0]["local"])


def period_warning(values: Mapping[str, Any]) -> str | None:
    return schedule_words.period_mismatch(
        values.get("frequency"), (values.get("filters") or {}).get("date_range")
    )


def suggested_name(values: Mapping[str, Any]) -> str:
    return schedule_words.suggested_name(forms.schedule_payload(values))


def form_errors(values: Mapping[str, Any], business: Business) -> dict[str, list[str]]:
    """Every problem the services find in the form as it stands (nothing is saved)."""
    try:
        validate_schedule(forms.schedule_payload(values), business.timezone)
    except ValidationError as exc:
        return forms.errors_by_field(exc.errors, values)
    return {}


def live_errors(
    values: Mapping[str, Any], business: Business, touched: set[str], submitted: bool
) -> dict[str, list[str]]:
    """{field: messages} for the fields to show: touched ones (all after a failed save), with []
    for a field that is fine now, so its old error is cleared."""
    errors = form_errors(values, business)
    shown = set(forms.FIELD_ANCHORS) if submitted else set(touched)
    if submitted:
        shown.add(NON_FIELD)
    result: dict[str, list[str]] = {}
    for field in shown - _CHECKED_ELSEWHERE:
        result[field] = errors.get(field, [])
    # A general filters error (the period is missing) belongs to the period box.
    if "filters" in errors and ("filters.date_range" in shown or "filters" in shown):
        result["filters"] = errors["filters"]
    return result


def touched_fields(raw: str | None) -> set[str]:
    return {name for name in (raw or "").split(",") if name in forms.FIELD_ANCHORS}


def in_form_order(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The error summary lists problems as the form shows its fields, general ones first."""
    order = {field: index for index, field in enumerate(forms.FIELD_ANCHORS)}
    keys = sorted(errors, key=lambda field: (field != NON_FIELD, order.get(field, len(order))))
    return {field: list(errors[field]) for field in keys}
