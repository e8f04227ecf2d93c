"""The files a run produced (export_run_files): listing them, finding one by format, and retention.

A run makes one file per format asked (`formats`, the first being `format`); the run's own file_*
columns repeat the first file, so everything that knows one file per run keeps working. A run
recorded before runs owned several files, or written directly by a test or an import, has no rows
here: its single file_* columns are then its one file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models.automation import SUCCESS_STATUSES, ExportHistory, ExportRunFile
from dashboard.models.types import utcnow
from dashboard.storage import get_storage
from dashboard.storage.errors import StorageError, UnsafePathError

log = logging.getLogger(__name__)

__all__ = ["RunFile", "cleanup_run_files", "file_for", "files_by_run", "files_of"]

CLEANUP_BATCH = 500


class RunFile(NamedTuple):
    """One file of a run, as downloads, mails and presenters read it (a named tuple: a page of
    runs makes one for each run, and a frozen dataclass took five times as long to make)."""

    format: str
    file_name: str
    file_size: int
    file_path: str
    position: int = 0

    def downloadable(self, history: Any) -> bool:
        return history.status in SUCCESS_STATUSES and bool(self.file_path)


def _single(history: Any) -> list[RunFile]:
    if not (history.file_name or history.file_path or history.file_size):
        return []
    return [
        RunFile(history.format, history.file_name or "", int(history.file_size or 0), history.file_path or "")
    ]


def _from_rows(history: Any, rows: Iterable[Any]) -> list[RunFile]:
    files = [RunFile(r.format, r.file_name, int(r.file_size or 0), r.file_path, r.position) for r in rows]
    if not files:
        return _single(history)
    files.sort(key=lambda f: f.position)
    # The run's own columns are the first file's truth (retention clears them first).
    first = files[0]
    if first.file_path != (history.file_path or ""):
        files[0] = RunFile(first.format, first.file_name, first.file_size, history.file_path or "", 0)
    return files


def files_of(history: ExportHistory) -> list[RunFile]:
    """The run's files in the order of its formats (empty when it made none)."""
    return _from_rows(history, history.files)


def files_by_run(histories: list[Any]) -> dict[uuid.UUID, list[RunFile]]:
    """`files_of` for a page of runs (ORM objects or listed rows) in one query."""
    ids = [h.id for h in histories]
    rows: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    if ids:
        for row in db.session.execute(
            select(ExportRunFile).where(ExportRunFile.history_id.in_(ids))
        ).scalars():
            rows[row.history_id].append(row)
    return {h.id: _from_rows(h, rows[h.id]) for h in histories}


def file_for(history: ExportHistory, fmt: str | None = None) -> RunFile | None:
    """The run's file in `fmt` (None: its first file); None when it has none."""
    files = files_of(history)
    if fmt is None:
        return files[0] if files else None
    return next((f for f in files if f.format == fmt), None)


def cleanup_run_files(days_to_keep: int | None = None, now: datetime | None = None) -> dict:
    """Retention for the files after a run's first (the storage's `cleanup_old_exports` deletes
    the first through the run's file_path): delete them and clear their paths; then forget the
    first files whose run's file_path that cleanup cleared. Rows stay, as the runs do."""
    if days_to_keep is None:
        days_to_keep = int(current_app.config["EXPORT_RETENTION_DAYS"])
    cutoff = (now or utcnow()) - timedelta(days=days_to_keep)
    storage = get_storage()
    summary = {"extra_files_deleted": 0, "extra_files_missing": 0, "extra_files_errors": 0}
    failed: set[tuple[uuid.UUID, str]] = set()
    old_runs = select(ExportHistory.id).where(ExportHistory.created_at < cutoff)
    while True:
        rows = db.session.execute(
            select(ExportRunFile.history_id, ExportRunFile.format, ExportRunFile.file_path)
            .where(
                ExportRunFile.position > 0,
                ExportRunFile.file_path != "",
                ExportRunFile.history_id.in_(old_runs),
            )
            .limit(CLEANUP_BATCH)
        ).all()
        db.session.rollback()  # end the read; deletes below must not hold a transaction open
        rows = [row for row in rows if (row.history_id, row.format) not in failed]
        if not rows:
            break
        for history_id, fmt, path in rows:
            try:
                if storage.delete_export_file(path):
                    summary["extra_files_deleted"] += 1
                else:
                    summary["extra_files_missing"] += 1
            except UnsafePathError as exc:
                log.warning("cleanup: history %s (%s): %s", history_id, fmt, exc)
            except StorageError as exc:
                summary["extra_files_errors"] += 1
                failed.add((history_id, fmt))
                log.error("cleanup: history %s (%s): %s", history_id, fmt, exc)
                continue
            db.session.execute(
                update(ExportRunFile)
                .where(
                    ExportRunFile.history_id == history_id,
                    ExportRunFile.format == fmt,
                    ExportRunFile.file_path == path,
                )
                .values(file_path="")
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
    cleared_runs = select(ExportHistory.id).where(
        ExportHistory.created_at < cutoff, ExportHistory.file_path == ""
    )
    db.session.execute(
        update(ExportRunFile)
        .where(
            ExportRunFile.position == 0,
            ExportRunFile.file_path != "",
            ExportRunFile.history_id.in_(cleared_runs),
        )
        .values(file_path="")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return summary
