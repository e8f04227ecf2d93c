"""The signed download link from e-mails: `/d/<token>` (a page) and `/d/<token>/file` (the file).

Both work without signing in. The page is what mail clients' link scanners fetch; only the button's
request streams the file and is audited ("export.download", "via e-mail link"). An expired or
cleaned-up link answers 410 and a tampered or unknown one 404, each with a page in plain words:
never the file, never a stack trace, never a hint about another business's records.
"""

from __future__ import annotations

import logging

from flask import Blueprint, make_response, render_template, request
from flask_login import current_user

from dashboard.core.display import datetime_display, size_display
from dashboard.core.labels import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.exports.periods import period_label
from dashboard.services.downloads import STORAGE_RETRY_AFTER_SECONDS, send_export_file
from dashboard.storage import ExportFileNotFound, StorageError, StorageUnavailable
from dashboard.storage.links import (
    LINK_EXPIRED,
    LINK_GONE,
    LINK_INVALID,
    LINK_NOT_FOUND,
    LINK_OK,
    download_link_expiry,
    load_download_token,
)
from dashboard.storage.run_files import file_for, files_of
from dashboard.tenancy import is_member_of

log = logging.getLogger(__name__)

bp = Blueprint("downloads", __name__)

# Not a link state: the link is good but the file store did not answer (try again later).
STORE_UNAVAILABLE = "store_unavailable"
STATUS_FOR = {
    LINK_EXPIRED: 410,
    LINK_GONE: 410,
    LINK_INVALID: 404,
    LINK_NOT_FOUND: 404,
    STORE_UNAVAILABLE: 503,
}


def _no_store(response):
    # The URL is a credential: keep it out of caches, Referer headers and search indexes.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _unavailable(reason: str, history=None):
    status = STATUS_FOR.get(reason, 404)
    context = {"reason": reason, "status": status, "file_name": None, "business_name": None}
    if history is not None and reason in (LINK_EXPIRED, LINK_GONE, STORE_UNAVAILABLE):
        # The holder had a genuine link: naming the file and business helps them ask again.
        context["file_name"] = history.file_name
        context["business_name"] = history.business.name
    response = make_response(render_template("downloads/unavailable.html", **context), status)
    if reason == STORE_UNAVAILABLE:
        response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
    return _no_store(response)


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
        type_label=EXPORT_TYPE_LABELS.get(history.export_type, history.export_type),
        period=period_label(history.filters_applied),
        format_label=FORMAT_LABELS.get(history.format, history.format),
        size_display=size_display(history.file_size),
        record_count=f"{history.record_count or 0:,}",
        created_display=datetime_display(history.completed_at or history.created_at, business.timezone),
        business_name=business.name,
        schedule_name=history.schedule_name,
        truncated=bool(history.truncated and history.total_records),
        total_records=f"{history.total_records or 0:,}",
        expires_display=datetime_display(download_link_expiry(token), business.timezone),
        files=[
            {
                "format": run_file.format,
                "format_label": FORMAT_LABELS.get(run_file.format, run_file.format),
                "file_name": run_file.file_name,
                "size_display": size_display(run_file.file_size),
            }
            for run_file in files_of(history)
            if run_file.downloadable(history)
        ],
    )
    return _no_store(make_response(body, 200))


def _member_id(history):
    """Who opened the link, for the audit entry: the signed-in user only when they belong to the
    run's business; anyone else is a holder of the link, as if not signed in (their name is no
    business of that business's audit log)."""
    if not current_user.is_authenticated:
        return None
    return current_user.id if is_member_of(history.business_id, current_user.id) else None


@bp.route("/d/<token>/file")
def file(token: str):
    """The run's file; `?format=csv`: its file in that format."""
    fmt = request.args.get("format") or None
    history, reason = load_download_token(token)
    if reason != LINK_OK:
        return _unavailable(reason, history)
    run_file = file_for(history, fmt)
    if run_file is None:
        return _unavailable(LINK_INVALID if fmt is not None else LINK_GONE, history)
    if not run_file.downloadable(history):
        return _unavailable(LINK_GONE, history)
    try:
        response = send_export_file(
            history, user_id=_member_id(history), via="via e-mail link", run_file=run_file
        )
    except ExportFileNotFound:
        return _unavailable(LINK_GONE, history)
    except StorageUnavailable:
        log.warning("Download link: the file store did not answer for export %s", history.id, exc_info=True)
        return _unavailable(STORE_UNAVAILABLE, history)
    except StorageError:
        log.exception("Download link: export %s could not be opened", history.id)
        return _unavailable(LINK_GONE, history)
    return _no_store(response)
