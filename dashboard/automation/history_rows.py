"""A run's history row, built in one place.

Every way a run comes to be (a claimed occurrence, run now, a test send, a rerun, a one-off export,
the CLI, a retry) asks `history_row` for the PENDING row's values; callers differ only in what they
pass. The claim writes the values with a Core INSERT (or, on PostgreSQL, as JSON: `history_row_json`),
the services through the ORM (``ExportHistory(**values)``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from dashboard.models.automation import STATUS_PENDING, ExportHistory
from dashboard.models.types import new_uuid, utcnow

__all__ = ["history_row", "history_row_json", "naive_utc", "rerun_row", "retry_row"]


def history_row(
    *,
    business_id: uuid.UUID,
    export_type: str,
    fmt: str,
    trigger: str,
    formats: Iterable[str] | None = None,
    filters: Mapping[str, Any] | None = None,
    schedule_id: uuid.UUID | None = None,
    schedule_name: str = "",
    user_id: uuid.UUID | None = None,
    send_email: bool = True,
    override_recipients: Iterable[str] | None = None,
    is_test: bool = False,
    occurrence_at: datetime | None = None,
    attempt: int = 1,
    retry_of_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The values of a new PENDING run (its id included, so a batch can refer to it). `formats`:
    every format to make, `fmt` first (None or just `fmt`: one file)."""
    several = list(formats or [fmt])
    if several[0] != fmt or len(set(several)) != len(several):
        raise ValueError(f"formats {several!r} must start with the format {fmt!r}, each once")
    return {
        "id": new_uuid(),
        "business_id": business_id,
        "user_id": user_id,
        "schedule_id": schedule_id,
        "schedule_name": schedule_name or "",
        "export_type": export_type,
        "format": fmt,
        "formats": several if len(several) > 1 else None,
        "trigger": trigger,
        "status": STATUS_PENDING,
        "filters_applied": dict(filters or {}),
        "send_email": bool(send_email),
        "override_recipients": list(override_recipients) if override_recipients is not None else None,
        "is_test": bool(is_test),
        "occurrence_at": occurrence_at,
        "attempt": int(attempt),
        "retry_of_id": retry_of_id,
        "created_at": created_at or utcnow(),
    }


def rerun_row(history: ExportHistory, *, user_id: uuid.UUID | None, trigger: str) -> dict[str, Any]:
    """A past run again: same type, format, resolved filters (same period), schedule link and mail
    choice; attempt 1."""
    return history_row(
        business_id=history.business_id,
        export_type=history.export_type,
        fmt=history.format,
        formats=history.formats,
        trigger=trigger,
        filters=history.filters_applied,
        schedule_id=history.schedule_id,
        schedule_name=history.schedule_name,
        user_id=user_id,
        send_email=history.send_email,
        override_recipients=history.override_recipients,
        is_test=bool(history.is_test),
    )


def retry_row(failed: ExportHistory) -> dict[str, Any]:
    """The retry of a failed run: its trigger, its person, attempt + 1, linked by ``retry_of_id``."""
    return history_row(
        business_id=failed.business_id,
        export_type=failed.export_type,
        fmt=failed.format,
        formats=failed.formats,
        trigger=failed.trigger,
        filters=failed.filters_applied,
        schedule_id=failed.schedule_id,
        schedule_name=failed.schedule_name,
        user_id=failed.user_id,
        send_email=failed.send_email,
        override_recipients=failed.override_recipients,
        is_test=bool(failed.is_test),
        attempt=(failed.attempt or 1) + 1,
        retry_of_id=failed.id,
    )


def naive_utc(value: datetime | None) -> str | None:
    """As UTCDateTime stores it: naive UTC (a naive value is UTC already), ISO text."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


_HISTORY_COLUMNS = ExportHistory.__table__.columns


def history_row_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """A whole export_history row as JSON: the given values, every other column's Python-side
    default (what an ORM or Core insert would have written), NULL where it has none."""
    row: dict[str, Any] = {}
    for column in _HISTORY_COLUMNS:
        if column.key in values:
            value = values[column.key]
        elif column.default is None:
            value = None
        elif column.default.is_callable:
            value = column.default.arg(None)
        else:
            value = column.default.arg
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = naive_utc(value)
        row[column.name] = value
    return row
