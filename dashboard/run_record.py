"""A run as the API shows it (`history_to_dict`): the record the JSON API, the pages and the
webhook destinations all send, with its files and their download paths.

Below the services and beside delivery in the layers, so that a destination can send the same
record the API answers without importing upward. Times are ISO 8601 UTC with a trailing "Z".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dashboard.core.display import duration_display, size_display
from dashboard.core.labels import EXPORT_TYPE_LABELS, FORMAT_LABELS, STATUS_LABELS, TRIGGER_LABELS
from dashboard.exports.filters import describe_filters
from dashboard.models.automation import ExportHistory, formats_of
from dashboard.storage.run_files import RunFile, files_of


def iso_utc(value: datetime | None) -> str | None:
    """ "2024-03-15T08:00:00Z" (whole seconds; naive means UTC); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def filters_display(export_type: str, filters: dict | None) -> str:
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
    duration = history.duration_seconds
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
        "duration_seconds": duration,
        "duration_display": duration_display(duration),
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
        "filters_display": filters_display(history.export_type, history.filters_applied),
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
