"""/api/reports/automation/schedules/<id>/destinations/<destination id>/test/: "send a test" to one
saved destination of a schedule (issue 19). The destinations themselves are fields of the schedule."""

from __future__ import annotations

import uuid

from flask import abort, jsonify

from dashboard.api.common import AUTOMATION_PREFIX, api_blueprint, api_business, route
from dashboard.services import schedules
from dashboard.services.destinations import send_test

bp = api_blueprint("api_destinations", __name__, AUTOMATION_PREFIX + "/schedules")


@route(bp, "/<uuid:id>/destinations/<destination_id>/test/", ["POST"])
def test_destination(id: uuid.UUID, destination_id: str):
    schedule = schedules.get_schedule(api_business(), id)
    if schedule is None or not any(d.get("id") == destination_id for d in schedule.destinations or []):
        abort(404)
    delivered, message = send_test(schedule, destination_id)
    return jsonify({"delivered": delivered, "message": message})
