"""Saved presets: an owner or manager saves what a schedule exports (type, formats, filters) under a
name; everyone in the business can start a schedule from it. List, create, delete; tenant-scoped
and audited, for the API and the pages alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dashboard.core.errors import ErrorCollector, StateConflict, ValidationError
from dashboard.exports.filters import FilterValidationError, validate_filters
from dashboard.extensions import db
from dashboard.models.automation import EXPORT_TYPES, FORMATS
from dashboard.models.pos import Business, Membership, User
from dashboard.models.presets import SchedulePreset
from dashboard.services.audit import record_audit
from dashboard.services.presenters import iso_utc
from dashboard.services.validation import SCHEDULE_FIELDS, check_unknown_fields, clean_text
from dashboard.tenancy import get_scoped

PRESET_FIELDS = ("name", "export_type", "format", "formats", "filters")
READ_ONLY_PRESET_FIELDS = frozenset({"id", "created_by_name", "created_at", "schedule"})
AUDIT_ENTITY = "schedule_preset"

MSG_PRESET_NAME = "Enter a name for the preset."
MSG_PRESET_NAME_TAKEN = "A preset with this name already exists: choose another name."
MSG_EXPORT_TYPE = "Choose an export type: " + ", ".join(EXPORT_TYPES) + "."
MSG_FORMATS = "Choose one or more formats from: " + ", ".join(FORMATS) + "."


def _format_name(value: object) -> str | None:
    name = value.strip().lower() if isinstance(value, str) else None
    return name if name in FORMATS else None


def _clean_formats(errors: ErrorCollector, data: Mapping[str, Any]) -> list[str]:
    """`formats` (a list), or `format` (one), or Excel; when both are sent they must agree."""
    single = None
    if "format" in data:
        single = _format_name(data["format"])
        if single is None:
            errors.add("format", "Choose a format: " + ", ".join(FORMATS) + ".")
            return []
    if "formats" not in data:
        return [single or "excel"]
    raw = data["formats"]
    names = [_format_name(value) for value in raw] if isinstance(raw, list) else []
    if not names or None in names:
        errors.add("formats", MSG_FORMATS)
        return []
    formats = list(dict.fromkeys(name for name in names if name))
    if single is not None and formats[0] != single:
        errors.add("format", "format must equal the first of formats (or be left out).")
    return formats


def validate_preset(data: object) -> dict[str, Any]:
    """The cleaned preset, or ValidationError with every problem at once."""
    if not isinstance(data, Mapping):
        raise ValidationError("Send a JSON object describing the preset.")
    errors = ErrorCollector()
    check_unknown_fields(errors, data, PRESET_FIELDS, READ_ONLY_PRESET_FIELDS)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.add("name", MSG_PRESET_NAME)
        name = None
    else:
        name = clean_text(
            errors,
            "name",
            name,
            max_length=255,
            long_message="The name must be at most 255 characters.",
            single_line=True,
            lines_message="The name must be a single line.",
        )
    export_type = data.get("export_type")
    export_type = export_type.strip().upper() if isinstance(export_type, str) else None
    if export_type not in EXPORT_TYPES:
        errors.add("export_type", MSG_EXPORT_TYPE)
        export_type = None
    formats = _clean_formats(errors, data)
    filters: dict[str, Any] = {}
    if export_type is not None:
        try:
            filters = validate_filters(export_type, data.get("filters") or {})
        except FilterValidationError as exc:
            errors.merge(exc.errors)
    errors.raise_if_any()
    return {"name": name, "export_type": export_type, "formats": formats, "filters": filters}


def list_presets(business: Business) -> Any:
    """The business's presets by name: a Select to paginate or to run."""
    return (
        select(SchedulePreset)
        .where(SchedulePreset.business_id == business.id)
        .order_by(func.lower(SchedulePreset.name), SchedulePreset.id)
    )


def all_presets(business: Business) -> list[SchedulePreset]:
    return list(db.session.scalars(list_presets(business)))


def get_preset(business: Business, preset_id: object) -> SchedulePreset | None:
    return get_scoped(SchedulePreset, preset_id, business.id)


def _name_taken(business: Business, name: str) -> bool:
    stmt = select(SchedulePreset.id).where(
        SchedulePreset.business_id == business.id, func.lower(SchedulePreset.name) == name.lower()
    )
    return db.session.scalar(stmt) is not None


def create_preset(business: Business, user: User | None, data: object) -> SchedulePreset:
    """Validate and save; 'preset.create' audited."""
    values = validate_preset(data)
    if _name_taken(business, values["name"]):
        raise StateConflict({"name": [MSG_PRESET_NAME_TAKEN]})
    preset = SchedulePreset(business_id=business.id, created_by_id=user.id if user else None, **values)
    db.session.add(preset)
    try:
        db.session.flush()
    except IntegrityError:  # the same name saved at the same moment by someone else
        db.session.rollback()
        raise StateConflict({"name": [MSG_PRESET_NAME_TAKEN]}) from None
    record_audit(
        business.id,
        "preset.create",
        user_id=user.id if user else None,
        entity=AUDIT_ENTITY,
        entity_id=preset.id,
        details=dict(values),
    )
    db.session.commit()
    return preset


def may_delete(preset: SchedulePreset, membership: Membership) -> bool:
    """Owners delete any preset of their business; a manager deletes the presets they saved."""
    return membership.is_owner or (
        preset.created_by_id is not None and preset.created_by_id == membership.user_id
    )


def delete_preset(preset: SchedulePreset, user: User | None) -> None:
    record_audit(
        preset.business_id,
        "preset.delete",
        user_id=user.id if user else None,
        entity=AUDIT_ENTITY,
        entity_id=preset.id,
        details={"name": preset.name, "export_type": preset.export_type},
    )
    db.session.delete(preset)
    db.session.commit()


def preset_schedule_fields(preset: SchedulePreset) -> dict[str, Any]:
    """The part of a `POST schedules/` body the preset fills (name, timing and recipients are added)."""
    fields: dict[str, Any] = {
        "export_type": preset.export_type,
        "format": (preset.formats or ["excel"])[0],
        "filters": dict(preset.filters or {}),
    }
    if "formats" in SCHEDULE_FIELDS:  # schedules that take several formats (contract section 6)
        fields["formats"] = list(preset.formats or ["excel"])
    return fields


def preset_to_dict(preset: SchedulePreset) -> dict[str, Any]:
    creator = preset.created_by
    return {
        "id": str(preset.id),
        "name": preset.name,
        "export_type": preset.export_type,
        "format": (preset.formats or ["excel"])[0],
        "formats": list(preset.formats or []),
        "filters": dict(preset.filters or {}),
        "created_by_name": (creator.name or creator.email) if creator else "",
        "created_at": iso_utc(preset.created_at),
        "schedule": preset_schedule_fields(preset),
    }
