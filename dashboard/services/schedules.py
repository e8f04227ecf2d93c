"""Schedules: create, update, activate, deactivate, delete, list and preview, for every caller.

The JSON API, the web pages, the CLI and the runner call these with an explicit business and user;
nothing here reads the request. Each change commits together with one audit entry. `next_run_at`
is computed on create and whenever the timing changes or the schedule is (re)activated, and is left
alone otherwise (so an edit of the recipients never moves or drops a pending run).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, update
from sqlalchemy.orm import selectinload

from dashboard.automation.calculator import ScheduleCalculator, next_occurrences
from dashboard.core.content_cache import ContentCache
from dashboard.core.errors import ValidationError
from dashboard.extensions import db
from dashboard.models.automation import ExportHistory, ExportSchedule
from dashboard.models.pos import Business, User
from dashboard.services import destinations
from dashboard.services.audit import record_audit
from dashboard.services.notifications import check_allowed_recipients
from dashboard.services.presenters import iso_utc, preview_to_dict
from dashboard.services.validation import (
    SCHEDULE_FIELDS,
    TIMING_FIELDS,
    validate_preview,
    validate_schedule,
)
from dashboard.tenancy import get_scoped

__all__ = [
    "activate_schedule",
    "create_schedule",
    "deactivate_schedule",
    "delete_schedule",
    "get_schedule",
    "has_schedules",
    "list_schedules",
    "overdue_schedules",
    "preview_occurrences",
    "schedule_values",
    "update_schedule",
    "upcoming_schedules",
]

AUDIT_ENTITY = "export_schedule"


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now


def _user_id(user: User | None) -> uuid.UUID | None:
    return user.id if user is not None else None


def _audit_value(value: Any, field: str = "") -> Any:
    if field in ("destinations", "file_password"):
        return destinations.audit_value(field, value)  # targets, never a secret (issue 19)
    return iso_utc(value) if isinstance(value, datetime) else value


def schedule_values(schedule: ExportSchedule) -> dict[str, Any]:
    """The writable fields of a schedule as a dict (what `validate_schedule` merges onto)."""
    values = {field: getattr(schedule, field) for field in SCHEDULE_FIELDS}
    values["recipients"] = list(values["recipients"] or [])
    values["filters"] = dict(values["filters"] or {})
    values["destinations"] = [dict(d) for d in values.get("destinations") or []]
    values["file_password"] = values.get("file_password") or ""
    return values


def _next_run(schedule: ExportSchedule, now: datetime) -> datetime:
    return ScheduleCalculator.calculate_next_run(schedule, now)


# --------------------------------------------------------------------------------------------
# Changes


def create_schedule(
    business: Business, user: User | None, data: object, *, now: datetime | None = None
) -> ExportSchedule:
    """Validate `data` and create the schedule (creator `user`); 'schedule.create' audited."""
    values = validate_schedule(data, business.timezone)
    check_allowed_recipients(business.id, {"recipients": values["recipients"]})
    destinations.store_schedule_secrets(values, data)
    schedule = ExportSchedule(business_id=business.id, created_by_id=_user_id(user), **values)
    schedule.next_run_at = _next_run(schedule, _now(now)) if schedule.is_active else None
    db.session.add(schedule)
    db.session.flush()
    details = {field: _audit_value(values[field], field) for field in SCHEDULE_FIELDS}
    details["next_run_at"] = iso_utc(schedule.next_run_at)
    record_audit(
        business.id,
        "schedule.create",
        user_id=_user_id(user),
        entity=AUDIT_ENTITY,
        entity_id=schedule.id,
        details=details,
    )
    db.session.commit()
    return schedule


def update_schedule(
    schedule: ExportSchedule,
    user: User | None,
    data: object,
    partial: bool = False,
    *,
    now: datetime | None = None,
) -> ExportSchedule:
    """PUT (`partial=False`: required fields must be sent) or PATCH (`partial=True`).

    Fields left out keep their values. `next_run_at` is recalculated from now when a timing field
    changes or the schedule becomes active, cleared when it becomes inactive, and otherwise kept.
    One 'schedule.update' audit entry lists the changed fields as {"field": [old, new]}; an update
    that changes nothing writes nothing.
    """
    values = validate_schedule(
        data, schedule.business.timezone, current=schedule_values(schedule), partial=partial
    )
    destinations.store_schedule_secrets(values, data, schedule)
    old = schedule_values(schedule)
    changed = {field: (old[field], values[field]) for field in SCHEDULE_FIELDS if old[field] != values[field]}
    if not changed:
        return schedule
    if "recipients" in changed:  # an unchanged list saved before the domains were set stays
        check_allowed_recipients(schedule.business_id, {"recipients": values["recipients"]})

    was_active = schedule.is_active
    old_next_run = schedule.next_run_at
    for field, (_, new) in changed.items():
        setattr(schedule, field, new)
    timing_changed = any(field in changed for field in TIMING_FIELDS)
    if not schedule.is_active:
        schedule.next_run_at = None
    elif timing_changed or not was_active or schedule.next_run_at is None:
        schedule.next_run_at = _next_run(schedule, _now(now))

    details: dict[str, Any] = {
        field: [_audit_value(before, field), _audit_value(after, field)]
        for field, (before, after) in changed.items()
    }
    if schedule.next_run_at != old_next_run:
        details["next_run_at"] = [iso_utc(old_next_run), iso_utc(schedule.next_run_at)]
    record_audit(
        schedule.business_id,
        "schedule.update",
        user_id=_user_id(user),
        entity=AUDIT_ENTITY,
        entity_id=schedule.id,
        details=details,
    )
    db.session.commit()
    return schedule


def activate_schedule(
    schedule: ExportSchedule, user: User | None, *, now: datetime | None = None
) -> ExportSchedule:
    """Make the schedule active with its next run computed from now. Idempotent: an active
    schedule with a next run is left as it is (an overdue run stays due) and nothing is audited."""
    if schedule.is_active and schedule.next_run_at is not None:
        return schedule
    schedule.is_active = True
    schedule.next_run_at = _next_run(schedule, _now(now))
    record_audit(
        schedule.business_id,
        "schedule.activate",
        user_id=_user_id(user),
        entity=AUDIT_ENTITY,
        entity_id=schedule.id,
        details={"name": schedule.name, "next_run_at": iso_utc(schedule.next_run_at)},
    )
    db.session.commit()
    return schedule


def deactivate_schedule(schedule: ExportSchedule, user: User | None) -> ExportSchedule:
    """Make the schedule inactive and clear its next run. Idempotent (nothing audited twice)."""
    if not schedule.is_active and schedule.next_run_at is None:
        return schedule
    schedule.is_active = False
    schedule.next_run_at = None
    record_audit(
        schedule.business_id,
        "schedule.deactivate",
        user_id=_user_id(user),
        entity=AUDIT_ENTITY,
        entity_id=schedule.id,
        details={"name": schedule.name},
    )
    db.session.commit()
    return schedule


def delete_schedule(schedule: ExportSchedule, user: User | None) -> None:
    """Delete the schedule. Its history stays: `schedule_id` becomes null and `schedule_name`
    keeps the name (filled in now where a run did not record it)."""
    schedule_id, name = schedule.id, schedule.name
    # Done here rather than trusting ON DELETE SET NULL alone: the name must be kept too, and the
    # session's copies of those rows must not keep pointing at a deleted schedule.
    db.session.execute(
        update(ExportHistory)
        .where(ExportHistory.schedule_id == schedule_id)
        .values(
            schedule_id=None,
            schedule_name=case((ExportHistory.schedule_name == "", name), else_=ExportHistory.schedule_name),
        )
        .execution_options(synchronize_session="fetch")
    )
    record_audit(
        schedule.business_id,
        "schedule.delete",
        user_id=_user_id(user),
        entity=AUDIT_ENTITY,
        entity_id=schedule_id,
        details={
            "name": name,
            "export_type": schedule.export_type,
            "format": schedule.format,
            "frequency": schedule.frequency,
        },
    )
    db.session.delete(schedule)
    db.session.commit()


# --------------------------------------------------------------------------------------------
# Queries


def get_schedule(business: Business, schedule_id: object) -> ExportSchedule | None:
    """The business's schedule with this id; None for a missing, foreign or malformed id."""
    return get_scoped(ExportSchedule, schedule_id, business.id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The names by (business, schedules stamp): the database moves the stamp on whenever a schedule of
# the business is added, removed or renamed (models/schedules_stamp.py), so nothing kept is stale.
_NAMES = ContentCache(4096)


def schedule_names(business: Business) -> tuple[tuple[str, str], ...]:
    """(id, name) of every schedule of the business, in list order: a filter's choices. Shared
    between requests: a tuple, never changed. For pages that read: a request that changes the
    business's schedules must commit before it asks (until then the business it holds has the
    stamp it read, and the names it reads would be kept under it)."""

    def read() -> tuple[tuple[str, str], ...]:
        rows = db.session.connection().execute(_schedule_names_statement(), {"business_id": business.id})
        return tuple((str(schedule_id), name) for schedule_id, name in rows)

    return _NAMES.get_or_make((business.id, business.schedules_stamp), read)


@cache
def _schedule_names_statement() -> Select:
    # Built once, plain rows: every /history page asks for its schedule filter's choices.
    return (
        select(ExportSchedule.id, ExportSchedule.name)
        .where(ExportSchedule.business_id == bindparam("business_id"))
        .order_by(func.lower(ExportSchedule.name), ExportSchedule.id)
    )


def list_schedules(
    business: Business,
    is_active: bool | None = None,
    export_type: str | None = None,
    frequency: str | None = None,
    search: str | None = None,
) -> Select:
    """The business's schedules, filtered, ordered by name (case-insensitive) then id: a Select to
    paginate (`pages.paginate`) or to run with `db.session.scalars`."""
    stmt = (
        select(ExportSchedule)
        .where(ExportSchedule.business_id == business.id)
        .options(selectinload(ExportSchedule.created_by))
    )
    if is_active is not None:
        stmt = stmt.where(ExportSchedule.is_active.is_(is_active))
    if export_type:
        stmt = stmt.where(ExportSchedule.export_type == export_type)
    if frequency:
        stmt = stmt.where(ExportSchedule.frequency == frequency)
    if search and search.strip():
        pattern = f"%{_escape_like(search.strip())}%"
        stmt = stmt.where(ExportSchedule.name.ilike(pattern, escape="\\"))
    return stmt.order_by(func.lower(ExportSchedule.name), ExportSchedule.id)


def upcoming_schedules(
    business: Business, limit: int = 10, *, now: datetime | None = None
) -> list[ExportSchedule]:
    """The next `limit` active schedules by `next_run_at`, still to come (overdue ones are in
    `overdue_schedules`)."""
    stmt = (
        select(ExportSchedule)
        .where(
            ExportSchedule.business_id == business.id,
            ExportSchedule.is_active.is_(True),
            ExportSchedule.next_run_at.is_not(None),
            ExportSchedule.next_run_at >= _now(now),
        )
        .options(selectinload(ExportSchedule.created_by))
        .order_by(ExportSchedule.next_run_at, ExportSchedule.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def overdue_schedules(business: Business, now: datetime | None = None) -> list[ExportSchedule]:
    """Active schedules whose `next_run_at` has passed, oldest first."""
    stmt = (
        select(ExportSchedule)
        .where(
            ExportSchedule.business_id == business.id,
            ExportSchedule.is_active.is_(True),
            ExportSchedule.next_run_at < _now(now),
        )
        .options(selectinload(ExportSchedule.created_by))
        .order_by(ExportSchedule.next_run_at, ExportSchedule.id)
    )
    return list(db.session.scalars(stmt))


def preview_occurrences(data: object, business: Business, now: datetime | None = None) -> dict[str, Any]:
    """`POST preview/`: {"timezone", "description", "occurrences": [{"utc", "local", "dst_shifted"}]}.

    `data` holds the timing fields (timezone defaults to the business's), `after` and `count`.
    """
    request = validate_preview(data, business.timezone, now=_now(now))
    try:
        occurrences = next_occurrences(request.timing, request.after, request.count)
    except ValueError:
        raise ValidationError({"after": ["Enter a time early enough to have runs after it."]}) from None
    return preview_to_dict(request.timing, occurrences)


def has_schedules(business: Business) -> bool:
    """Whether the business has made any schedule yet (the home page then shows how to start)."""
    return (
        db.session.scalar(select(ExportSchedule.id).where(ExportSchedule.business_id == business.id).limit(1))
        is not None
    )
