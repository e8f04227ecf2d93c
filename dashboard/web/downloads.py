"""The signed download link from e-mails: `/d/<token>` (a page) and `/d/<token>/file` (the file).

Both work without signing in. The page is what mail clients' link scanners fetch; only the button's
request streams the file and is audited ("export.download", "via e-mail link"). An expired or
cleaned-up link answers 410 and a tampered or unknown one 404, each with a page in plain words:
never the file, never a stack trace, never a hint about another business's records.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from flask import Blueprint, make_response, render_template, request, send_file
from flask_login import current_user

from dashboard.automation.delivery import CONTENT_TYPES, FORMAT_LABELS, TYPE_LABELS, local_time, size_display
from dashboard.automation.links import (
    LINK_EXPIRED,
    LINK_GONE,
    LINK_INVALID,
    LINK_NOT_FOUND,
    LINK_OK,
    download_link_expiry,
    load_download_token,
)
from dashboard.automation.storage import ExportFileNotFound, StorageError, get_storage
from dashboard.extensions import db
from dashboard.services.audit import record_audit

log = logging.getLogger(__name__)

bp = Blueprint("downloads", __name__)

EXTENSIONS = {"excel": "xlsx", "csv": "csv", "pdf": "pdf"}
STATUS_FOR = {LINK_EXPIRED: 410, LINK_GONE: 410, LINK_INVALID: 404, LINK_NOT_FOUND: 404}


def safe_download_name(name: str | None, export_format: str) -> str:
    """A name fit for Content-Disposition: no CR/LF or other controls, no quotes, no slashes
    (Werkzeug refuses line breaks with a 500; quotes and slashes confuse browsers)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.sub(r"[\x00-\x1f\x7f\"'\\/;:*?<>|]+", "_", text).strip(" ._")
    if not text:
        text = "export"
    extension = EXTENSIONS.get(export_format, "")
    if extension and not text.lower().endswith("." + extension):
        text = f"{text}.{extension}"
    return text[:150]


def _no_store(response):
    # The URL is a credential: keep it out of caches, Referer headers and search indexes.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _unavailable(reason: str, history=None):
    status = STATUS_FOR.get(reason, 404)
    context = {"reason": reason, "status": status, "file_name": None, "business_name": None}
    if history is not None and reason in (LINK_EXPIRED, LINK_GONE):
        # The holder had a genuine link: naming the file and business helps them ask again.
        context["file_name"] = history.file_name
        context["business_name"] = history.business.name
    return _no_store(make_response(render_template("downloads/unavailable.html", **context), status))


@bp.route("/d/<token>")
def page(token: str):
    history, reason = load_download_token(token)
    if reason != LINK_OK:
        return _unavailable(reason, history)
    business = history.business
    body = render_template(
        "downloads/page.html",
        token=token,
        file_name=history.file_name,
        type_label=TYPE_LABELS.get(history.export_type, history.export_type),
        format_label=FORMAT_LABELS.get(history.format, history.format),
        size_display=size_display(history.file_size),
        record_count=f"{history.record_count or 0:,}",
        created_display=local_time(history.completed_at or history.created_at, business),
        business_name=business.name,
        schedule_name=history.schedule_name,
        truncated=bool(history.truncated and history.total_records),
        total_records=f"{history.total_records or 0:,}",
        expires_display=local_time(download_link_expiry(token), business),
    )
    return _no_store(make_response(body, 200))


@bp.route("/d/<token>/file")
def file(token: str):
    history, reason = load_download_token(token)
    if reason != LINK_OK:
        return _unavailable(reason, history)
    storage = get_storage()
    try:
        local_path = getattr(storage, "local_path", None)
        source = local_path(history.file_path) if local_path else storage.get_export_file(history.file_path)
        if local_path and not source.is_file():
            raise ExportFileNotFound(history.file_path)
    except ExportFileNotFound:
        return _unavailable(LINK_GONE, history)
    except StorageError:
        log.exception("Download link: export %s could not be opened", history.id)
        return _unavailable(LINK_GONE, history)
    if request.method != "HEAD":
        record_audit(
            history.business_id,
            "export.download",
            user_id=current_user.id if current_user.is_authenticated else None,
            entity="export_history",
            entity_id=history.id,
            details="via e-mail link",
        )
        db.session.commit()
    response = send_file(
        source,
        mimetype=CONTENT_TYPES.get(history.format, "application/octet-stream"),
        as_attachment=True,
        download_name=safe_download_name(history.file_name, history.format),
        max_age=0,
        etag=False,
        conditional=False,
    )
    return _no_store(response)
