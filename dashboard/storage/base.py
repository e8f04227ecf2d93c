"""The storage interface every backend implements, and the retention clean-up they share."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import IO, Any, BinaryIO

from flask import current_app
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models.automation import ExportHistory
from dashboard.models.types import utcnow
from dashboard.storage.errors import StorageError, UnsafePathError
from dashboard.storage.paths import EXPORTS_PREFIX, _uuid_text, sanitize_file_name

log = logging.getLogger(__name__)

CLEANUP_BATCH = 500


class ExportFileStorage:
    """What every backend does with export files; `get_storage()` returns the configured one."""

    backend = "abstract"

    # -- path ---------------------------------------------------------------------------------
    def _build_storage_path(
        self,
        file_name: str,
        business_id: Any,
        history_id: Any,
        created_at: datetime | None = None,
    ) -> str:
        """``exports/{business_id}/{year}/{month}/{history_id}_{file_name}`` (name sanitized)."""
        created_at = created_at or utcnow()
        if created_at.tzinfo is not None:
            created_at = created_at.astimezone(UTC)
        business = _uuid_text(business_id, "business id")
        history = _uuid_text(history_id, "history id")
        name = sanitize_file_name(file_name)
        return f"{EXPORTS_PREFIX}/{business}/{created_at:%Y}/{created_at:%m}/{history}_{name}"

    # -- what a backend implements --------------------------------------------------------------
    def save_export_file(
        self,
        src: str | os.PathLike | IO[bytes],
        file_name: str,
        business_id: Any,
        history_id: Any,
        created_at: datetime | None = None,
        content_type: str | None = None,
    ) -> str:
        """Store a finished file (a path or a binary file object) and return its storage path."""
        raise NotImplementedError

    def get_export_file(self, path: str) -> BinaryIO:
        """An open binary stream of a stored file (close it when done). `ExportFileNotFound` when
        it is gone, `UnsafePathError` for a path that would leave the root."""
        raise NotImplementedError

    def open(self, path: str) -> BinaryIO:
        """Same as `get_export_file`: a stream to send without reading the file into memory."""
        return self.get_export_file(path)

    def delete_export_file(self, path: str) -> bool:
        """Delete a stored file; True when it existed. Refuses unsafe paths."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def size(self, path: str) -> int:
        raise NotImplementedError

    def remove_partial_files(self, now: datetime | None = None) -> int:
        """Delete temporary files left by killed writers; the local backend has some."""
        return 0

    def cleanup_old_exports(self, days_to_keep: int | None = None, now: datetime | None = None) -> dict:
        """Delete the files of runs created more than `days_to_keep` days ago (default
        ``EXPORT_RETENTION_DAYS``) and clear their ``file_path``; the records stay.

        A path that would leave the root is refused (the file is not touched) and the record's
        ``file_path`` cleared all the same, so no download can follow it. A storage error leaves
        the record as it is, to be tried again by the next cleanup.
        """
        if days_to_keep is None:
            days_to_keep = int(current_app.config["EXPORT_RETENTION_DAYS"])
        now = now or utcnow()
        cutoff = now - timedelta(days=days_to_keep)
        summary = {
            "days_to_keep": days_to_keep,
            "cutoff": cutoff.isoformat(),
            "checked": 0,
            "deleted_files": 0,
            "missing_files": 0,
            "cleared_records": 0,
            "refused": 0,
            "errors": 0,
            "partial_files_removed": 0,
        }
        failed: set[uuid.UUID] = set()
        while True:
            query = (
                select(ExportHistory.id, ExportHistory.file_path)
                .where(ExportHistory.created_at < cutoff, ExportHistory.file_path != "")
                .order_by(ExportHistory.created_at)
                .limit(CLEANUP_BATCH)
            )
            if failed:
                query = query.where(ExportHistory.id.not_in(failed))
            rows = db.session.execute(query).all()
            db.session.rollback()  # end the read; deletes below must not hold a transaction open
            if not rows:
                break
            cleared: list[tuple[uuid.UUID, str]] = []
            for history_id, path in rows:
                summary["checked"] += 1
                try:
                    if self.delete_export_file(path):
                        summary["deleted_files"] += 1
                    else:
                        summary["missing_files"] += 1
                except UnsafePathError as exc:
                    summary["refused"] += 1
                    log.warning("cleanup: history %s: %s", history_id, exc)
                except StorageError as exc:
                    summary["errors"] += 1
                    failed.add(history_id)
                    log.error("cleanup: history %s: %s", history_id, exc)
                    continue
                cleared.append((history_id, path))
            for history_id, path in cleared:
                # Conditional: a record whose path changed meanwhile is not ours to clear.
                result = db.session.execute(
                    update(ExportHistory)
                    .where(ExportHistory.id == history_id, ExportHistory.file_path == path)
                    .values(file_path="")
                    .execution_options(synchronize_session=False)
                )
                summary["cleared_records"] += result.rowcount or 0
            db.session.commit()
        summary["partial_files_removed"] = self.remove_partial_files(now)
        log.info(
            "cleanup_old_exports: %(deleted_files)s files deleted, %(cleared_records)s records cleared, "
            "%(refused)s refused, %(errors)s errors (cutoff %(cutoff)s)",
            summary,
        )
        return summary
