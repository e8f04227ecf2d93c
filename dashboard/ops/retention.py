"""Retention of rows, applied by the daily cleanup job (`flask exports cleanup` too).

Without it history rows, mail messages and audit entries grow for ever (files already expire after
EXPORT_RETENTION_DAYS). Each setting is in days; 0 (the default) keeps rows for ever:

* HISTORY_RETENTION_DAYS: finished runs (COMPLETED, EMAILED, FAILED) created before the cutoff are
  deleted with their mail rows and any file still stored; runs still PENDING or PROCESSING never are.
* MAIL_RETENTION_DAYS: mail rows that are done (sent or given up) created before the cutoff. Mail
  still to send is never deleted.
* AUDIT_RETENTION_DAYS: the dashboard's own audit entries; entries imported from the POS
  (`external_id` set) are the POS's records and are left alone.

Deletes run in batches of a thousand rows, each its own transaction, so a first run on a large
table never holds a long lock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from dashboard.extensions import db
from dashboard.models.automation import (
    FINISHED_STATUSES,
    MAIL_FAILED,
    MAIL_SENT,
    ExportHistory,
    ExportRunFile,
    MailMessage,
)
from dashboard.models.pos import AuditLog
from dashboard.models.types import utcnow

log = logging.getLogger(__name__)
BATCH = 1000


def _cutoff(setting: str, now: datetime) -> datetime | None:
    days = int(current_app.config.get(setting) or 0)
    return now - timedelta(days=days) if days > 0 else None


def _delete_in_batches(model, *conditions) -> int:
    total = 0
    while True:
        ids = list(db.session.scalars(select(model.id).where(*conditions).limit(BATCH)))
        if not ids:
            return total
        total += db.session.execute(delete(model).where(model.id.in_(ids))).rowcount or 0
        db.session.commit()


def _delete_history(cutoff: datetime) -> tuple[int, int]:
    from dashboard.storage import get_storage

    storage = get_storage()
    runs = files = 0
    while True:
        rows = db.session.execute(
            select(ExportHistory.id, ExportHistory.file_path)
            .where(ExportHistory.created_at < cutoff, ExportHistory.status.in_(FINISHED_STATUSES))
            .limit(BATCH)
        ).all()
        if not rows:
            return runs, files
        # A run's files after its first (several formats) go with it too.
        extra = db.session.scalars(
            select(ExportRunFile.file_path).where(
                ExportRunFile.history_id.in_([r.id for r in rows]),
                ExportRunFile.position > 0,
                ExportRunFile.file_path != "",
            )
        ).all()
        for path in [path for _, path in rows] + list(extra):
            if path:
                try:
                    files += 1 if storage.delete_export_file(path) else 0
                except Exception as exc:  # the row goes anyway: a stray file is only space
                    log.warning("retention: file %s not deleted: %s", path, exc)
        runs += db.session.execute(
            delete(ExportHistory).where(ExportHistory.id.in_([r.id for r in rows]))
        ).rowcount
        db.session.commit()


def apply_retention(now: datetime | None = None) -> dict:
    now = now or utcnow()
    summary = {"history_deleted": 0, "history_files_deleted": 0, "mail_deleted": 0, "audit_deleted": 0}
    cutoff = _cutoff("HISTORY_RETENTION_DAYS", now)
    if cutoff is not None:
        summary["history_deleted"], summary["history_files_deleted"] = _delete_history(cutoff)
    cutoff = _cutoff("MAIL_RETENTION_DAYS", now)
    if cutoff is not None:
        summary["mail_deleted"] = _delete_in_batches(
            MailMessage, MailMessage.created_at < cutoff, MailMessage.status.in_((MAIL_SENT, MAIL_FAILED))
        )
    cutoff = _cutoff("AUDIT_RETENTION_DAYS", now)
    if cutoff is not None:
        summary["audit_deleted"] = _delete_in_batches(
            AuditLog, AuditLog.created_at < cutoff, AuditLog.external_id.is_(None)
        )
    return summary
