"""What a schedule or a run looks like to people: the JSON API and the pages render these same dicts,
so "In 2 hours", "Never run" and "Overdue" are written in one place ("2m 15s", "1.5 MB" and the
words for stored names come from dashboard/core).

Times are ISO 8601 UTC with a trailing "Z" (`iso_utc`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import humanize

from dashboard.automation.calculator import (
    Occurrence,
    Timing,
    describe_timing,
    next_occurrences,
    timing_of,
)
from dashboard.core.labels import (
    EXPORT_TYPE_LABELS,
    FORMAT_LABELS,
    FREQUENCY_LABELS,
)
from dashboard.models.automation import (
    ExportSchedule,
    formats_of,
)
from dashboard.run_record import (
    download_path,
    file_download_path,
    files_to_list,
    filters_display,
    history_to_dict,
    iso_utc,
)
from dashboard.services.destinations import represent_destinations

__all__ = [
    "download_path",
    "file_download_path",
    "files_to_list",
    "history_to_dict",
    "iso_utc",
    "last_run_display",
    "next_run_display",
    "occurrence_to_dict",
    "preview_to_dict",
    "schedule_description",
    "schedule_status_display",
    "schedule_to_dict",
]

NEXT_RUNS_COUNT = 5


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _iso_local(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------
# Schedules


def next_run_display(schedule: ExportSchedule, now: datetime | None = None) -> str:
    """ "In 2 hours"; "Due 5 minutes ago" when overdue; "Not scheduled" when inactive or unset."""
    if not schedule.is_active or schedule.next_run_at is None:
        return "Not scheduled"
    delta = schedule.next_run_at - _now(now)
    if delta >= timedelta(0):
        return f"In {humanize.naturaldelta(delta)}"
    return f"Due {humanize.naturaltime(-delta)}"


def last_run_display(schedule: ExportSchedule, now: datetime | None = None) -> str:
    """ "Never run", or "2 days ago"."""
    if schedule.last_run_at is None:
        return "Never run"
    delta = _now(now) - schedule.last_run_at
    # A clock a few seconds behind the database's must not read "in 3 seconds".
    return _capitalize(humanize.naturaltime(max(delta, timedelta(0))))


def schedule_status_display(schedule: ExportSchedule, now: datetime | None = None) -> str:
    """ "Inactive"; "Overdue" when active and its next run has passed; else "Active"."""
    if not schedule.is_active:
        return "Inactive"
    if schedule.next_run_at is not None and schedule.next_run_at < _now(now):
        return "Overdue"
    return "Active"


def _timing(schedule: ExportSchedule) -> Timing | None:
    # Stored rows were validated on the way in; a timezone dropped from a later tz database must
    # still not break a page, so a timing that no longer loads shows as unknown.
    try:
        return timing_of(schedule)
    except ValueError:
        return None


def schedule_description(schedule: ExportSchedule) -> str:
    """ "Every Monday at 09:00 (Europe/London)"."""
    timing = _timing(schedule)
    return describe_timing(timing) if timing is not None else "Unknown timing"


def occurrence_to_dict(occurrence: Occurrence) -> dict[str, Any]:
    """{"utc": "2027-03-14T07:30:00Z", "local": "2027-03-14T03:30:00-04:00", "dst_shifted": true}"""
    return {
        "utc": iso_utc(occurrence.utc),
        "local": _iso_local(occurrence.local),
        "dst_shifted": occurrence.dst_shifted,
    }


def preview_to_dict(timing: Timing, occurrences: list[Occurrence]) -> dict[str, Any]:
    """The shape of `POST preview/`, plus the plain-words description of the timing."""
    return {
        "timezone": timing.timezone,
        "description": describe_timing(timing),
        "occurrences": [occurrence_to_dict(o) for o in occurrences],
    }


def _next_runs(schedule: ExportSchedule, now: datetime) -> list[dict[str, Any]]:
    # An inactive schedule has no next runs (its next_run_display says "Not scheduled"); the
    # preview endpoint answers "when would it run" for a timing that is not active.
    if not schedule.is_active:
        return []
    timing = _timing(schedule)
    if timing is None:
        return []
    try:
        return [occurrence_to_dict(o) for o in next_occurrences(timing, now, NEXT_RUNS_COUNT)]
    except ValueError:  # no occurrences left before year 9999
        return []


def schedule_to_dict(schedule: ExportSchedule, now: datetime | None = None) -> dict[str, Any]:
    """Every field of a schedule plus the contract's read-only extras."""
    now = _now(now)
    creator = schedule.created_by
    return {
        "id": str(schedule.id),
        "name": schedule.name,
        "export_type": schedule.export_type,
        "export_type_display": EXPORT_TYPE_LABELS.get(schedule.export_type, schedule.export_type),
        "format": schedule.format,
        "format_display": FORMAT_LABELS.get(schedule.format, schedule.format),
        "formats": formats_of(schedule),
        "frequency": schedule.frequency,
        "frequency_display": FREQUENCY_LABELS.get(schedule.frequency, schedule.frequency),
        "hour": schedule.hour,
        "minute": schedule.minute,
        "day_of_week": schedule.day_of_week,
        "day_of_month": schedule.day_of_month,
        "week_of_month": schedule.week_of_month,
        "timezone": schedule.timezone,
        "recipients": list(schedule.recipients or []),
        "include_creator_email": schedule.include_creator_email,
        "email_subject": schedule.email_subject,
        "email_message": schedule.email_message,
        "filters": dict(schedule.filters or {}),
        "filters_display": filters_display(schedule.export_type, schedule.filters),
        "skip_if_empty": schedule.skip_if_empty,
        "conditions": dict(schedule.conditions or {}),
        "is_active": schedule.is_active,
        "last_run_at": iso_utc(schedule.last_run_at),
        "next_run_at": iso_utc(schedule.next_run_at),
        "created_at": iso_utc(schedule.created_at),
        "updated_at": iso_utc(schedule.updated_at),
        "created_by": str(schedule.created_by_id) if schedule.created_by_id else None,
        "created_by_name": creator.display_name if creator is not None else None,
        "next_run_display": next_run_display(schedule, now),
        "last_run_display": last_run_display(schedule, now),
        "status_display": schedule_status_display(schedule, now),
        "next_runs": _next_runs(schedule, now),
        "schedule_description": schedule_description(schedule),
        # Issue 19: destinations without their secrets; the file password only as "set".
        "destinations": represent_destinations(schedule.destinations),
        "file_password_set": bool(schedule.file_password),
    }
