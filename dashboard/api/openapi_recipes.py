"""The OpenAPI paths and schemas of recipes/ and presets/ (dashboard/api/recipes.py), merged into
the document by `openapi.document()`; kept apart so the schedules' document stays one file's job."""

from __future__ import annotations

from typing import Any

from dashboard.models.automation import EXPORT_TYPES, FORMATS
from dashboard.services.field_rules import filters_schema as filters_by_export_type
from dashboard.services.field_sets import SCHEDULE

PRESET_WRITABLE: dict[str, Any] = {
    "name": SCHEDULE["name"].schema(),
    "export_type": {"type": "string", "enum": list(EXPORT_TYPES)},
    "format": {"type": "string", "enum": list(FORMATS), "description": "The first of `formats`."},
    "formats": {"type": "array", "items": {"type": "string", "enum": list(FORMATS)}, "minItems": 1},
}
# The rules across a preset's fields, as services/presets.py checks them: filters by export type
# (services/field_rules.py). That `format`, sent with `formats`, is its first is said in words:
# JSON Schema needs `prefixItems` for it, which the schemathesis generators cannot read.
PRESET_RULES: list[dict[str, Any]] = [*filters_by_export_type(partial=False)]


def schemas(ref, filters_schema: dict) -> dict[str, Any]:
    preset = {
        "type": "object",
        "required": ["id", "name", "export_type", "format", "formats", "filters", "created_at", "schedule"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            **PRESET_WRITABLE,
            "filters": filters_schema,
            "created_by_name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "schedule": {
                "type": "object",
                "description": "The part of a `POST schedules/` body this preset fills.",
            },
        },
    }
    return {
        "Recipe": {
            "type": "object",
            "required": ["id", "name", "description", "schedule"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "schedule": {
                    **ref("ScheduleCreate"),
                    "description": "Add recipients and POST it to schedules/.",
                },
            },
        },
        "Preset": preset,
        "PresetCreate": {
            "type": "object",
            "required": ["name", "export_type"],
            "properties": {**PRESET_WRITABLE, "filters": filters_schema},
            "additionalProperties": False,
            "allOf": PRESET_RULES,
        },
    }


def paths(automation: str, op, json, ref) -> dict[str, Any]:
    return {
        f"{automation}/recipes/": {
            "get": op(
                "Ready-made schedules",
                "recipes",
                {"200": json({"type": "array", "items": ref("Recipe")}, "Every recipe.")},
            )
        },
        f"{automation}/presets/": {
            "get": op(
                "List saved presets",
                "recipes",
                {"200": json(ref("PaginatedPresets"), "A page of presets.")},
                paginated=True,
            ),
            "post": op(
                "Save a preset",
                "recipes",
                {"201": json(ref("Preset"), "The new preset.")},
                body=ref("PresetCreate"),
                examples={
                    "sales_as_excel": {
                        "name": "Yesterday's takings",
                        "export_type": "SALES",
                        "formats": ["excel", "csv"],
                        "filters": {"date_range": "yesterday"},
                    }
                },
            ),
        },
        f"{automation}/presets/{{id}}/": {
            "get": op("One preset", "recipes", {"200": json(ref("Preset"), "The preset.")}, by_id=True),
            "delete": op(
                "Delete a preset (an owner, or whoever saved it)",
                "recipes",
                {"204": {"description": "Deleted."}},
                by_id=True,
            ),
        },
    }
