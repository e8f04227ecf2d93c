"""/api/reports/automation/schedules/: list, create, retrieve, replace, update, delete, activate,
deactivate, trigger, upcoming, overdue and preview. Parse, call the schedules service, render."""

from __future__ import annotations

import uuid

from flask import jsonify, request

from dashboard.api.common import (
    AUTOMATION_PREFIX,
    api_blueprint,
    api_business,
    api_user,
    json_body,
    no_content,
    paginate,
    route,
)
from dashboard.models.automation import TRIGGER_API, ExportSchedule
from dashboard.services import runs as run_service
from dashboard.services import schedules as service
from dashboard.services.presenters import history_to_dict, schedule_to_dict
from dashboard.services.validation import READ_ONLY_SCHEDULE_FIELDS, validate_schedule_list_params
from dashboard.tenancy import get_scoped_or_404

bp = api_blueprint("api_schedules", __name__, AUTOMATION_PREFIX + "/schedules")


def _created(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    return response


@route(bp, "/", ["GET"])
def list_schedules():
    params = validate_schedule_list_params(request.args)
    stmt = service.list_schedules(
        api_business(),
        is_active=params["is_active"],
        export_type=params["export_type"],
        frequency=params["frequency"],
        search=params["search"],
    )
    return paginate(stmt, params["page"], params["page_size"], schedule_to_dict)


@route(bp, "/", ["POST"])
def create_schedule():
    schedule = service.create_schedule(
        api_business(), api_user(), json_body(ignored=READ_ONLY_SCHEDULE_FIELDS)
    )
    response = _created(schedule_to_dict(schedule), 201)
    response.headers["Location"] = f"{AUTOMATION_PREFIX}/schedules/{schedule.id}/"
    return response


@route(bp, "/upcoming/", ["GET"])
def upcoming():
    return jsonify([schedule_to_dict(s) for s in service.upcoming_schedules(api_business())])


@route(bp, "/overdue/", ["GET"])
def overdue():
    return jsonify([schedule_to_dict(s) for s in service.overdue_schedules(api_business())])


@route(bp, "/preview/", ["POST"])
def preview():
    return jsonify(service.preview_occurrences(json_body(), api_business()))


@route(bp, "/<uuid:id>/", ["GET"])
def retrieve(id: uuid.UUID):
    return jsonify(schedule_to_dict(get_scoped_or_404(ExportSchedule, id)))


@route(bp, "/<uuid:id>/", ["PUT", "PATCH"])
def update(id: uuid.UUID):
    schedule = get_scoped_or_404(ExportSchedule, id)
    data = json_body(ignored=READ_ONLY_SCHEDULE_FIELDS)
    schedule = service.update_schedule(schedule, api_user(), data, partial=request.method == "PATCH")
    return jsonify(schedule_to_dict(schedule))


@route(bp, "/<uuid:id>/", ["DELETE"])
def delete(id: uuid.UUID):
    service.delete_schedule(get_scoped_or_404(ExportSchedule, id), api_user())
    return no_content()


@route(bp, "/<uuid:id>/activate/", ["POST"])
def activate(id: uuid.UUID):
    schedule = service.activate_schedule(get_scoped_or_404(ExportSchedule, id), api_user())
    return jsonify(schedule_to_dict(schedule))


@route(bp, "/<uuid:id>/deactivate/", ["POST"])
def deactivate(id: uuid.UUID):
    schedule = service.deactivate_schedule(get_scoped_or_404(ExportSchedule, id), api_user())
    return jsonify(schedule_to_dict(schedule))


@route(bp, "/<uuid:id>/trigger/", ["POST"])
def trigger(id: uuid.UUID):
    schedule = get_scoped_or_404(ExportSchedule, id)
    history = run_service.trigger_schedule_request(
        schedule, api_user(), json_body(required=False), TRIGGER_API
    )
    return _created(history_to_dict(history, detail=True), 202)
