"""/api/reports/automation/history/: list, retrieve, download, rerun, statistics and recent."""

from __future__ import annotations

import logging
import uuid
from functools import partial

from flask import jsonify, request

from dashboard.api.common import (
    AUTOMATION_PREFIX,
    api_blueprint,
    api_business,
    api_user,
    cursor_url,
    error_body,
    route,
)
from dashboard.models.automation import SUCCESS_STATUSES, TRIGGER_API, ExportHistory, formats_of
from dashboard.models.pos import ROLE_OWNER
from dashboard.services import history as service
from dashboard.services import runs as run_service
from dashboard.services import statistics as statistics_service
from dashboard.services.downloads import (
    STORAGE_RETRY_AFTER_SECONDS,
    STORAGE_UNAVAILABLE_MESSAGE,
    send_export_file,
)
from dashboard.services.presenters import history_to_dict
from dashboard.services.validation import validate_history_params
from dashboard.storage import ExportFileNotFound, StorageError, StorageUnavailable
from dashboard.storage.run_files import RunFile, file_for
from dashboard.tenancy import get_scoped_or_404, role_required

log = logging.getLogger(__name__)

bp = api_blueprint("api_history", __name__, AUTOMATION_PREFIX + "/history")


@route(bp, "/", ["GET"])
def list_history():
    params = validate_history_params(request.args)
    business = api_business()
    stmt = service.list_runs_query(business, params)
    # Counted only when the page's rows do not carry the count (services/history.runs_page).
    count = partial(service.count_history, business, params)
    return jsonify(service.paginate_runs(stmt, params, cursor_url, count))


@route(bp, "/statistics/", ["GET"])
@role_required(ROLE_OWNER)
def statistics():
    return jsonify(statistics_service.statistics(api_business()))


@route(bp, "/recent/", ["GET"])
def recent():
    return jsonify([history_to_dict(h) for h in service.recent_history(api_business())])


@route(bp, "/<uuid:id>/", ["GET"])
def retrieve(id: uuid.UUID):
    return jsonify(history_to_dict(get_scoped_or_404(ExportHistory, id), detail=True))


def _not_downloadable(history: ExportHistory):
    if history.status not in SUCCESS_STATUSES:
        return error_body(
            409,
            f"This export is {history.status}: only COMPLETED or EMAILED exports can be downloaded.",
        )
    return error_body(409, "This export's file is no longer stored (it was cleaned up). Run it again.")


@route(bp, "/<uuid:id>/download/", ["GET"])
def download(id: uuid.UUID):
    """The run's file; `?format=csv`: its file in that format (a run makes one per format)."""
    history = get_scoped_or_404(ExportHistory, id)
    fmt = request.args.get("format") or None
    if fmt is not None and fmt not in formats_of(history):
        made = ", ".join(formats_of(history))
        return error_body(404, f"This export has no {fmt[:20]!r} file: it was made as {made}.")
    if not history.is_downloadable:
        return _not_downloadable(history)
    run_file = file_for(history, fmt)
    if run_file is None or not run_file.downloadable(history):
        return _not_downloadable(history)
    return _send(history, run_file if fmt is not None else None)


def _send(history: ExportHistory, run_file: RunFile | None):
    try:
        return send_export_file(
            history, user_id=api_user().id, via="via API", audit=request.method != "HEAD", run_file=run_file
        )
    except ExportFileNotFound:
        return _not_downloadable(history)
    except StorageUnavailable:
        log.warning("API download: the file store did not answer for export %s", history.id, exc_info=True)
        return error_body(503, STORAGE_UNAVAILABLE_MESSAGE, {"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)})
    except StorageError:
        log.exception("API download: export %s could not be opened", history.id)
        return _not_downloadable(history)


@route(bp, "/<uuid:id>/rerun/", ["POST"])
def rerun(id: uuid.UUID):
    history = run_service.rerun(get_scoped_or_404(ExportHistory, id), api_user(), TRIGGER_API)
    response = jsonify(history_to_dict(history, detail=True))
    response.status_code = 202
    return response
