"""POST /api/reports/exports/: a one-off export, answered 202 with its history record."""

from __future__ import annotations

from flask import jsonify

from dashboard.api.common import api_blueprint, api_business, api_user, json_body, route
from dashboard.automation.runner import ScheduledExportRunner
from dashboard.services.presenters import history_to_dict
from dashboard.services.validation import validate_one_off_export

bp = api_blueprint("api_exports", __name__, "/api/reports/exports")


@route(bp, "/", ["POST"])
def start_export():
    request_data = validate_one_off_export(json_body())
    history = ScheduledExportRunner().start_one_off_export(
        api_business(),
        api_user(),
        request_data["export_type"],
        request_data["format"],
        request_data.get("filters") or {},
        request_data["recipients"],
        "API",
    )
    response = jsonify(history_to_dict(history, detail=True))
    response.status_code = 202
    return response
