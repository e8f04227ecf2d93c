"""Serving an export's file: the one path the dashboard, the JSON API and the e-mail link share.

Each caller checks who may download (session, token or signed link) and maps the errors to its
own answer; opening the file, the audit entry and the safe response headers live here, once.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import BinaryIO

from flask import Response, has_request_context, request, send_file

from dashboard.core.labels import content_type, file_extension
from dashboard.extensions import db
from dashboard.models.automation import ExportHistory
from dashboard.services.audit import record_audit
from dashboard.storage import ExportFileNotFound, get_storage
from dashboard.storage.run_files import RunFile

# When the file store does not answer (StorageUnavailable), every download door says so with 503
# and this Retry-After: the file is not gone, and a person or a script should simply try again.
STORAGE_RETRY_AFTER_SECONDS = 60
STORAGE_UNAVAILABLE_MESSAGE = (
    "The export files cannot be reached right now (the file store is not answering). "
    "The file is kept: try again in a minute."
)


def safe_download_name(name: str | None, export_format: str) -> str:
    """A name fit for Content-Disposition: no CR/LF or other controls, no quotes, no slashes
    (Werkzeug refuses line breaks with a 500; quotes and slashes confuse browsers)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.sub(r"[\x00-\x1f\x7f\"'\\/;:*?<>|]+", "_", text).strip(" ._")
    if not text:
        text = "export"
    extension = file_extension(export_format)
    if extension and not text.lower().endswith("." + extension):
        text = f"{text}.{extension}"
    return text[:150]


def open_export_file(history: ExportHistory, run_file: RunFile | None = None) -> Path | BinaryIO:
    """The stored file (the run's first, or `run_file`) as a local path or a stream. Raises
    ExportFileNotFound when it was cleaned up, StorageUnavailable when the storage does not answer
    (try again later) and StorageError when the stored path is refused."""
    path = run_file.file_path if run_file is not None else history.file_path
    if not path:
        raise ExportFileNotFound(path)
    storage = get_storage()
    local_path = getattr(storage, "local_path", None)
    if local_path is not None:
        source = local_path(path)
        if not source.is_file():
            raise ExportFileNotFound(path)
        return source
    return storage.get_export_file(path)


def send_export_file(
    history: ExportHistory, *, user_id, via: str, audit: bool = True, run_file: RunFile | None = None
) -> Response:
    """Open the file first (errors propagate to the caller), then audit the download, then stream it.
    `run_file`: one of the run's files (`run_files.file_for`); default its first.

    A HEAD request downloads nothing and is never audited, whichever door it came through."""
    source = open_export_file(history, run_file)
    fmt = run_file.format if run_file is not None else history.format
    name = run_file.file_name if run_file is not None else history.file_name
    if has_request_context() and request.method == "HEAD":
        audit = False
    if audit:
        record_audit(
            history.business_id,
            "export.download",
            user_id=user_id,
            entity="export_history",
            entity_id=history.id,
            details=via,
        )
        db.session.commit()
    response = send_file(
        source,
        mimetype="application/zip"
        if (name or "").endswith(".zip")  # a password-protected file (issue 19)
        else content_type(fmt),
        as_attachment=True,
        download_name=safe_download_name(name, fmt),
        max_age=0,
        etag=False,
        conditional=False,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
