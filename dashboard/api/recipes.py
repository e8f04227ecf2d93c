"""/api/reports/automation/recipes/ (ready-made schedules) and presets/ (saved what-to-export
under a name): contract section 6. Parse, call the recipes and presets services, render."""

from __future__ import annotations

import uuid

from flask import abort, jsonify, request

from dashboard.api.common import (
    AUTOMATION_PREFIX,
    api_blueprint,
    api_business,
    api_membership,
    api_user,
    json_body,
    no_content,
    paginate,
    route,
)
from dashboard.services import presets as preset_service
from dashboard.services.recipes import list_recipes
from dashboard.services.validation import validate_schedule_list_params

bp = api_blueprint("api_recipes", __name__, AUTOMATION_PREFIX)


@route(bp, "/recipes/", ["GET"])
def recipes():
    return jsonify([recipe.to_dict() for recipe in list_recipes()])


@route(bp, "/presets/", ["GET"])
def list_presets():
    params = validate_schedule_list_params({key: request.args.get(key) for key in ("page", "page_size")})
    stmt = preset_service.list_presets(api_business())
    return paginate(stmt, params["page"], params["page_size"], preset_service.preset_to_dict)


@route(bp, "/presets/", ["POST"])
def create_preset():
    preset = preset_service.create_preset(api_business(), api_user(), json_body())
    response = jsonify(preset_service.preset_to_dict(preset))
    response.status_code = 201
    response.headers["Location"] = f"{AUTOMATION_PREFIX}/presets/{preset.id}/"
    return response


@route(bp, "/presets/<uuid:id>/", ["GET"])
def retrieve_preset(id: uuid.UUID):
    preset = preset_service.get_preset(api_business(), id)
    if preset is None:
        abort(404)
    return jsonify(preset_service.preset_to_dict(preset))


@route(bp, "/presets/<uuid:id>/", ["DELETE"])
def delete_preset(id: uuid.UUID):
    preset = preset_service.get_preset(api_business(), id)
    if preset is None:
        abort(404)
    if not preset_service.may_delete(preset, api_membership()):
        abort(403, "Only an owner or the person who saved this preset can delete it.")
    preset_service.delete_preset(preset, api_user())
    return no_content()
