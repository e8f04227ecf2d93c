"""A schedule's `conditions` (CONTRACT section 6): send only when the run's figures pass them.

    {"min_records": 10}            the file holds at least 10 records
    {"min_total": "500.00"}        the period's headline total (Sales: completed sales; Inventory:
                                   stock value) is at least 500.00
    {"min_change_percent": 15}     the headline total moved by more than 15% (up or down) against
                                   the previous period (dashboard/exports/comparison.py)

Every condition given must hold; {} (the default) always sends. A run whose conditions fail stays
COMPLETED, sends nothing and says why in `skipped_reason` ("Not sent: 3 records, fewer than the 10
this schedule's conditions ask for."). `ConditionsKind` is the field's kind for the one field
declaration (services/field_sets.py); `unmet_reason` is the whole evaluation, pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from dashboard.exports.comparison import COMPARED_TYPES, display_change, display_value, headline_figure

MSG_CONDITIONS = (
    "Conditions must be an object with any of min_records (a whole number of 0 or more), min_total "
    "(an amount of 0 or more) and min_change_percent (a number above 0), for example "
    '{"min_records": 1}.'
)
MSG_HEADLINE_TYPES = (
    "Conditions on the total (min_total, min_change_percent) apply to SALES and INVENTORY exports."
)
MAX_AMOUNT = Decimal("1000000000000")


def clean_conditions(value: object) -> dict[str, Any] | None:
    """The conditions as stored ({"min_records": int, "min_total": "12.50", "min_change_percent":
    float}), or None when `value` is not a valid conditions object."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or set(value) - {"min_records", "min_total", "min_change_percent"}:
        return None
    cleaned: dict[str, Any] = {}
    records = value.get("min_records")
    if isinstance(records, float) and records.is_integer():  # 8.0 is the integer 8 in JSON Schema
        records = int(records)
    if records is not None:
        if isinstance(records, bool) or not isinstance(records, int) or not 0 <= records <= 10**12:
            return None
        cleaned["min_records"] = records
    total = value.get("min_total")
    if total is not None:
        if isinstance(total, bool) or not isinstance(total, int | float | str):
            return None
        if isinstance(total, str) and len(total) > 20:  # the documented maxLength, before stripping
            return None
        try:
            amount = Decimal(str(total).strip())
        except InvalidOperation:
            return None
        if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
            return None
        cleaned["min_total"] = str(amount.quantize(Decimal("0.01")))
    change = value.get("min_change_percent")
    if change is not None:
        if isinstance(change, bool) or not isinstance(change, int | float) or not 0 < change <= 100_000:
            return None
        cleaned["min_change_percent"] = float(change)
    return cleaned


class ConditionsKind:
    """The `conditions` field's kind (see services/fields.py: `clean` and `schema`)."""

    form = "none"  # the page forms do not carry it yet: set through the API, kept by form edits

    def clean(self, field: Any, errors: Any, value: object, context: Any) -> Any:
        cleaned = clean_conditions(value)
        if cleaned is None:
            errors.add(field.name, field.message)
        return cleaned

    def schema(self, field: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "min_records": {"type": ["integer", "null"], "minimum": 0, "maximum": 10**12},
                "min_total": {
                    "anyOf": [
                        {"type": "number", "minimum": 0, "maximum": int(MAX_AMOUNT)},
                        {"type": "string", "maxLength": 20},
                        {"type": "null"},
                    ]
                },
                "min_change_percent": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 100000},
            },
            "additionalProperties": False,
        }


def check_conditions_type(errors: Any, values: Mapping[str, Any]) -> None:
    """A rule across fields: conditions on the total need an export type that has one."""
    conditions = values.get("conditions") or {}
    on_total = {"min_total", "min_change_percent"} & set(conditions)
    if on_total and values.get("export_type") not in COMPARED_TYPES:
        errors.add("conditions", MSG_HEADLINE_TYPES)


def unmet_reason(conditions: Mapping[str, Any] | None, record_count: int, summary: Mapping | None) -> str:
    """Why the run must not be sent ("" when every condition holds, or there are none)."""
    if not conditions:
        return ""
    count = conditions.get("min_records")
    if count is not None and record_count < count:
        return (
            f"Not sent: {record_count:,} record{'s' if record_count != 1 else ''}, fewer than the "
            f"{count:,} this schedule's conditions ask for."
        )
    headline = headline_figure(dict(summary or {}))
    minimum = conditions.get("min_total")
    if minimum is not None:
        if headline is None:
            return "Not sent: this export has no total to check against the schedule's minimum."
        if Decimal(headline["current"]) < Decimal(minimum):
            return (
                f"Not sent: {headline['label'].lower()} of {display_value('money', headline['current'])}, "
                f"below the {display_value('money', minimum)} this schedule's conditions ask for."
            )
    change = conditions.get("min_change_percent")
    if change is not None:
        if headline is None or headline.get("change_percent") is None:
            return (
                "Not sent: there is no previous figure to compare with, and this schedule sends only "
                f"when the total moves by more than {change:g}%."
            )
        moved = headline["change_percent"]
        if abs(moved) <= change:
            return (
                f"Not sent: {headline['label'].lower()} moved {display_change(moved)} against the previous "
                f"period, not more than the {change:g}% this schedule's conditions ask for."
            )
    return ""
