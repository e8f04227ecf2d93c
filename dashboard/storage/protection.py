"""Password-protected run files (issue 19): right before a run's file is stored, a schedule with a
file password gets an AES-256 zip of it instead, so the history's download, the mail and every
destination carry the same protected file. The password is read from the schedule (encrypted with
DESTINATIONS_SECRET_KEYS) and never leaves this function."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import select

from dashboard.core.protect import protected_name, write_protected_zip
from dashboard.core.secrets import secret_box_for
from dashboard.extensions import db
from dashboard.models.automation import ExportHistory, ExportSchedule


def protected_output(history_id, path: str | Path, file_name: str) -> tuple[str, str, int | None]:
    """For the runner, right before it stores a run's file: (path, name, size) to store. The file
    itself (size None: unchanged) unless the run's schedule has a password."""
    token = db.session.scalar(
        select(ExportSchedule.file_password)
        .join(ExportHistory, ExportHistory.schedule_id == ExportSchedule.id)
        .where(ExportHistory.id == history_id)
    )
    db.session.rollback()  # a read only: no transaction held over the zipping
    if not token:
        return str(path), file_name, None
    password = secret_box_for(current_app.config).decrypt(token)
    zipped = Path(path).with_name(Path(path).name + ".zip")
    write_protected_zip([(file_name, Path(path))], password, zipped)
    return str(zipped), protected_name(file_name), zipped.stat().st_size
