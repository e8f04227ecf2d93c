"""POST /api/reports/exports/: a one-off export, answered 202 with its history record."""

from __future__ import annotations

from flask import jsonify

from dashboard.api.common import api_blueprint, api_business, api_user, json_body, route
from dashboard.models.automation import TRIGGER_API
from dashboard.services.presenters import history_to_dict
from dashboard.services.runs import start_one_off_request

bp = api_blueprint("api_exports", __name__, "/api/reports/exports")


@route(bp, "/", ["POST"])
def start_export():
    history = start_one_off_request(api_business(), api_user(), json_body(), TRIGGER_API)
    response = jsonify(history_to_dict(history, detail=True))
    response.status_code = 202
    return response
