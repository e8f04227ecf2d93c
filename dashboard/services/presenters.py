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
from dashboard.core.display import duration_display, size_display
from dashboard.core.labels import (
    EXPORT_TYPE_LABELS,
    FORMAT_LABELS,
    FREQUENCY_LABELS,
    STATUS_LABELS,
    TRIGGER_LABELS,
)
from dashboard.exports.filters import describe_filters
from dashboard.models.automation import (
    ExportHistory,
    ExportSchedule,
    formats_of,
)
from dashboard.services.destinations import represent_destinations
from dashboard.storage.run_files import RunFile, files_of

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


def iso_utc(value: datetime | None) -> str | None:
    """ "2024-03-15T08:00:00Z" (whole seconds; naive means UTC); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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
        "filters_display": _filters_display(schedule.export_type, schedule.filters),
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


def _filters_display(export_type: str, filters: dict | None) -> str:
    try:
        return describe_filters(export_type, dict(filters or {}))
    except (ValueError, TypeError):  # stored filters predating a rule: show them, don't fail
        return ""


# --------------------------------------------------------------------------------------------
# History


def download_path(history: ExportHistory) -> str | None:
    """The API download path when the file can be downloaded, else None."""
    if not history.is_downloadable:
        return None
    return f"/api/reports/automation/history/{history.id}/download/"


def file_download_path(history: ExportHistory, run_file: RunFile) -> str | None:
    """The API download path of one of a run's files when it can be downloaded, else None."""
    if not run_file.downloadable(history):
        return None
    return f"/api/reports/automation/history/{history.id}/download/?format={run_file.format}"


def files_to_list(history: ExportHistory) -> list[dict[str, Any]]:
    """A run's files (one per format, in the order asked), as history records carry them."""
    return [
        {
            "format": run_file.format,
            "format_display": FORMAT_LABELS.get(run_file.format, run_file.format),
            "file_name": run_file.file_name,
            "file_size": run_file.file_size,
            "file_size_display": size_display(run_file.file_size),
            "download_url": file_download_path(history, run_file),
        }
        for run_file in files_of(history)
    ]


def history_to_dict(history: ExportHistory, detail: bool = False) -> dict[str, Any]:
    """Every field of a run plus the contract's extras; `error_traceback` only when `detail`."""
    has_file = bool(history.file_name or history.file_path or history.file_size)
    user = history.user
    schedule = history.schedule
    result: dict[str, Any] = {
        "id": str(history.id),
        "user": str(history.user_id) if history.user_id else None,
        "user_name": user.display_name if user is not None else None,
        "schedule": str(history.schedule_id) if history.schedule_id else None,
        # The name as it ran (kept after the schedule is deleted); the current one when unrecorded.
        "schedule_name": history.schedule_name or (schedule.name if schedule is not None else None),
        "export_type": history.export_type,
        "export_type_display": EXPORT_TYPE_LABELS.get(history.export_type, history.export_type),
        "format": history.format,
        "format_display": FORMAT_LABELS.get(history.format, history.format),
        "formats": formats_of(history),
        "trigger": history.trigger,
        "trigger_display": TRIGGER_LABELS.get(history.trigger, history.trigger),
        "status": history.status,
        "status_display": STATUS_LABELS.get(history.status, history.status.title()),
        "started_at": iso_utc(history.started_at),
        "completed_at": iso_utc(history.completed_at),
        "duration_seconds": history.duration_seconds,
        "duration_display": duration_display(history.duration_seconds),
        "file_name": history.file_name,
        "file_size": history.file_size or 0,
        "file_size_mb": history.file_size_mb,
        "file_size_display": size_display(history.file_size) if has_file else None,
        "file_path": history.file_path,
        "download_url": download_path(history),
        "files": files_to_list(history),
        "record_count": history.record_count or 0,
        "total_records": history.total_records,
        "truncated": bool(history.truncated),
        "progress": history.progress or 0,
        "filters_applied": dict(history.filters_applied or {}),
        "filters_display": _filters_display(history.export_type, history.filters_applied),
        "send_email": history.send_email,
        "override_recipients": history.override_recipients,
        "email_sent": history.email_sent,
        "email_recipients": list(history.email_recipients or []),
        "email_sent_at": iso_utc(history.email_sent_at),
        "email_delivery": list(history.email_delivery or []),
        "destination_delivery": list(getattr(history, "destination_delivery", None) or []),
        "error_message": history.error_message,
        "failure_category": history.failure_category,
        "skipped_reason": history.skipped_reason or "",
        "summary": dict(history.summary or {}),
        "attempt": history.attempt or 1,
        "retry_of": str(history.retry_of_id) if history.retry_of_id else None,
        "next_retry_at": iso_utc(history.next_retry_at),
        "occurrence_at": iso_utc(history.occurrence_at),
        "created_at": iso_utc(history.created_at),
    }
    if detail:
        result["error_traceback"] = history.error_traceback
    return result
