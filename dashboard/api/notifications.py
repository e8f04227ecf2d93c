"""/api/reports/automation/notifications/: the business's notification settings (owners only)."""

from __future__ import annotations

from flask import jsonify

from dashboard.api.common import AUTOMATION_PREFIX, api_blueprint, api_business, api_user, json_body, route
from dashboard.models.pos import ROLE_OWNER
from dashboard.services import notifications as service
from dashboard.services.validation import NOTIFICATION_READ_ONLY_FIELDS
from dashboard.tenancy import role_required

bp = api_blueprint("api_notifications", __name__, AUTOMATION_PREFIX + "/notifications")


@route(bp, "/", ["GET"])
@role_required(ROLE_OWNER)
def get_settings():
    return jsonify(service.settings_to_dict(service.get_settings(api_business())))


@route(bp, "/", ["PUT", "PATCH"])
@role_required(ROLE_OWNER)
def update_settings():
    # PUT and PATCH alike: fields left out keep their values (a client's PUT usually sends them all anyway).
    settings = service.update_settings(
        api_business(), api_user(), json_body(ignored=NOTIFICATION_READ_ONLY_FIELDS)
    )
    return jsonify(service.settings_to_dict(settings))
