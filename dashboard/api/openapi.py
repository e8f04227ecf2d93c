"""GET /api/openapi.json: the OpenAPI 3.1 document of the JSON API.

The paths are written here; the components come from `openapi_schemas` (request bodies and query
parameters from the fields declared once in `services.field_sets`) and the examples from
`openapi_examples`. Kept true by tests: every /api/ route and method of the URL map appears here,
and schemathesis (`--checks all`, against a served instance) finds no answer that disagrees with it.
Public (no sign-in): it describes the API, it holds no business data.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from dashboard.api import openapi_destinations, openapi_people, openapi_recipes
from dashboard.api.openapi_examples import (
    NOTIFICATION_EXAMPLES,
    ONE_OFF_EXAMPLES,
    PREVIEW_EXAMPLES,
    SCHEDULE_EXAMPLES,
    TRIGGER_EXAMPLES,
)
from dashboard.api.openapi_schemas import (
    _UUID,
    FILTERS_SCHEMA,
    HISTORY_LIST_PARAMETERS,
    SCHEDULE_LIST_PARAMETERS,
    _error,
    _json,
    _paginated,
    _ref,
    components,
)

bp = Blueprint("api_openapi", __name__)

AUTOMATION = "/api/reports/automation"
ID_PARAMETER = {"name": "id", "in": "path", "required": True, "schema": _UUID}


def _queued(operation: dict) -> dict:
    """An operation that queues a run: its 429 also means a full queue (CONTRACT section 6)."""
    operation["responses"]["429"] = _error("QueueFull")
    return operation


def _common_errors(*, body: bool = False, not_found: bool = False) -> dict:
    responses = {
        "401": _error("Unauthorized"),
        "403": _error("Forbidden"),
        "429": _error("TooManyRequests"),
    }
    if body:
        responses.update(
            {"400": _error("BadRequest"), "413": _error("TooLarge"), "415": _error("UnsupportedMediaType")}
        )
    if not_found:
        responses["404"] = _error("NotFound")
    return responses


def _op(
    summary: str,
    tag: str,
    responses: dict,
    *,
    body: dict | None = None,
    body_required: bool = True,
    examples: dict[str, Any] | None = None,
    parameters: list | None = None,
    by_id: bool = False,
    paginated: bool = False,
    description: str | None = None,
) -> dict:
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "operationId": None,  # filled in by document()
        "responses": {
            **responses,
            **_common_errors(body=body is not None, not_found=by_id or paginated),
            # The query parameters of lists are validated too.
            **({"400": _error("BadRequest")} if paginated else {}),
        },
    }
    if description:
        operation["description"] = description
    params = list(parameters or [])
    if by_id:
        params.insert(0, ID_PARAMETER)
    if params:
        operation["parameters"] = params
    if body is not None:
        media: dict[str, Any] = {"schema": body}
        if examples:
            media["examples"] = {
                name: {"summary": name.replace("_", " "), "value": value} for name, value in examples.items()
            }
        operation["requestBody"] = {"required": body_required, "content": {"application/json": media}}
    return operation


def _paths() -> dict[str, dict[str, Any]]:
    a = AUTOMATION
    schedule = _json(_ref("Schedule"), "The schedule.")
    history = _json(
        _ref("HistoryDetail"), "The new run (PENDING, or already finished when runs are synchronous)."
    )
    return {
        f"{a}/schedules/": {
            "get": _op(
                "List schedules",
                "schedules",
                {"200": _json(_ref("PaginatedSchedules"), "A page of schedules.")},
                parameters=SCHEDULE_LIST_PARAMETERS,
                paginated=True,
            ),
            "post": _op(
                "Create a schedule",
                "schedules",
                {"201": _json(_ref("Schedule"), "The new schedule, with next_run_at.")},
                body=_ref("ScheduleCreate"),
                examples=SCHEDULE_EXAMPLES,
            ),
        },
        f"{a}/schedules/{{id}}/": {
            "get": _op("Get a schedule", "schedules", {"200": schedule}, by_id=True),
            "put": _op(
                "Replace a schedule",
                "schedules",
                {"200": schedule},
                body=_ref("ScheduleReplace"),
                examples=SCHEDULE_EXAMPLES,
                by_id=True,
                description="Every writable field; next_run_at is recalculated when timing changes.",
            ),
            "patch": _op(
                "Update some fields of a schedule",
                "schedules",
                {"200": schedule},
                body=_ref("SchedulePatch"),
                by_id=True,
            ),
            "delete": _op("Delete a schedule", "schedules", {"204": {"description": "Deleted."}}, by_id=True),
        },
        f"{a}/schedules/{{id}}/activate/": {
            "post": _op(
                "Activate a schedule (idempotent)",
                "schedules",
                {"200": schedule},
                by_id=True,
                description="Sets is_active and calculates next_run_at. No body.",
            )
        },
        f"{a}/schedules/{{id}}/deactivate/": {
            "post": _op(
                "Deactivate a schedule (idempotent)",
                "schedules",
                {"200": schedule},
                by_id=True,
                description="Clears is_active and next_run_at. No body.",
            )
        },
        f"{a}/schedules/{{id}}/trigger/": {
            "post": _queued(
                _op(
                    "Run a schedule now",
                    "schedules",
                    {"202": history},
                    body=_ref("TriggerRequest"),
                    examples=TRIGGER_EXAMPLES,
                    body_required=False,
                    by_id=True,
                    description="Allowed for inactive schedules too. Sets last_run_at, never moves next_run_at.",
                )
            )
        },
        f"{a}/schedules/upcoming/": {
            "get": _op(
                "The next 10 active schedules by next_run_at",
                "schedules",
                {"200": _json({"type": "array", "items": _ref("Schedule"), "maxItems": 10}, "Schedules.")},
            )
        },
        f"{a}/schedules/overdue/": {
            "get": _op(
                "Active schedules whose next_run_at has passed",
                "schedules",
                {"200": _json({"type": "array", "items": _ref("Schedule")}, "Schedules.")},
            )
        },
        f"{a}/schedules/preview/": {
            "post": _op(
                "Preview the next occurrences of a timing",
                "schedules",
                {"200": _json(_ref("Preview"), "The next occurrences, in UTC and local time.")},
                body=_ref("PreviewRequest"),
                examples=PREVIEW_EXAMPLES,
            )
        },
        f"{a}/history/": {
            "get": _op(
                "List runs",
                "history",
                {
                    "200": _json(
                        _ref("PaginatedHistory"), "A page of runs, newest first (no error_traceback)."
                    )
                },
                parameters=HISTORY_LIST_PARAMETERS,
                paginated=True,
            )
        },
        f"{a}/history/{{id}}/": {
            "get": _op(
                "Get a run (with error_traceback)",
                "history",
                {"200": _json(_ref("HistoryDetail"), "The run.")},
                by_id=True,
            )
        },
        f"{a}/history/{{id}}/download/": {
            "get": _op(
                "Download a run's file",
                "history",
                {
                    "200": {
                        "description": "The file, as an attachment.",
                        "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
                        "content": {
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "409": _error("Conflict"),
                    "503": _error("StorageUnavailable"),
                },
                by_id=True,
                parameters=[
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "The run's file in this format (one of its `formats`; another: "
                        "404). Left out: its first file.",
                    }
                ],
                description="409 unless the run is COMPLETED or EMAILED and its file still exists; 503 "
                "(with Retry-After) while the file store does not answer. A run of several formats has "
                "a file each: `files` lists them with their download_url.",
            )
        },
        f"{a}/history/{{id}}/rerun/": {
            "post": _queued(
                _op(
                    "Run the same export again for the same period",
                    "history",
                    {"202": history},
                    by_id=True,
                    description="No body. Uses the run's resolved filters.",
                )
            )
        },
        f"{a}/history/statistics/": {
            "get": _op(
                "Statistics (owners only)",
                "history",
                {"200": _json(_ref("Statistics"), "Counts, success rate, sizes, 30 days.")},
            )
        },
        f"{a}/history/recent/": {
            "get": _op(
                "The 10 most recent runs",
                "history",
                {"200": _json({"type": "array", "items": _ref("History"), "maxItems": 10}, "Runs.")},
            )
        },
        f"{a}/notifications/": {
            "get": _op(
                "Notification settings (owners only)",
                "notifications",
                {"200": _json(_ref("NotificationSettings"), "The settings.")},
            ),
            "put": _op(
                "Update notification settings (owners only)",
                "notifications",
                {"200": _json(_ref("NotificationSettings"), "The settings.")},
                body=_ref("NotificationSettingsUpdate"),
                examples=NOTIFICATION_EXAMPLES,
            ),
            "patch": _op(
                "Update some notification settings (owners only)",
                "notifications",
                {"200": _json(_ref("NotificationSettings"), "The settings.")},
                body=_ref("NotificationSettingsUpdate"),
                examples=NOTIFICATION_EXAMPLES,
            ),
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["meta"],
                "operationId": None,
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")},
            }
        },
        "/api/version": {
            "get": {
                "summary": "The release version (with the operator token: commit, Python, schema revision)",
                "tags": ["meta"],
                "operationId": None,
                "security": [],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"version": {"type": "string"}},
                            "required": ["version"],
                        },
                        "The version.",
                    )
                },
            }
        },
        "/api/reports/exports/": {
            "post": _queued(
                _op(
                    "Start a one-off export",
                    "exports",
                    {"202": history},
                    body=_ref("OneOffExportRequest"),
                    examples=ONE_OFF_EXAMPLES,
                    description="Runs in the background; poll the history record.",
                )
            )
        },
    }


# Operations whose input can conflict with what is stored (the schedule, allowed recipient domains).
_STATE_CONFLICTS = [
    (f"{AUTOMATION}/schedules/", "post"),
    (f"{AUTOMATION}/schedules/{{id}}/", "put"),
    (f"{AUTOMATION}/schedules/{{id}}/", "patch"),
    (f"{AUTOMATION}/schedules/{{id}}/trigger/", "post"),
    (f"{AUTOMATION}/notifications/", "put"),
    (f"{AUTOMATION}/notifications/", "patch"),
    ("/api/reports/exports/", "post"),
    (f"{AUTOMATION}/presets/", "post"),  # a name already used
]


def _operation_id(method: str, path: str) -> str:
    words = [w for w in path.replace("/api/reports/", "").replace("{id}", "by_id").split("/") if w]
    return method + "_" + "_".join(words)


def _components() -> dict[str, Any]:
    parts = components()
    parts["schemas"].update(openapi_recipes.schemas(_ref, FILTERS_SCHEMA))
    parts["schemas"]["PaginatedPresets"] = _paginated("Preset")
    parts["schemas"].update(openapi_people.schemas(_paginated))
    return parts


def document() -> dict[str, Any]:
    paths = _paths()
    paths.update(openapi_recipes.paths(AUTOMATION, _op, _json, _ref))
    for path, method in _STATE_CONFLICTS:
        paths[path][method]["responses"]["409"] = _error("StateConflict")
    paths.update(openapi_people.paths(_op, _json, _ref, _error, _paginated))
    paths.update(openapi_destinations.paths(AUTOMATION, _op, _json, _ref))  # issue 19
    for path, operations in paths.items():
        for method, operation in operations.items():
            operation["operationId"] = _operation_id(method, path)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Export Automation API",
            "version": "1.0.0",
            "description": (
                "Scheduled and one-off exports of sales, customers, inventory and audit logs. "
                "Authenticate with `Authorization: Bearer <token>` (`flask users token EMAIL`), or with "
                "the browser session plus the X-CSRFToken header on unsafe methods. Timestamps are "
                "ISO 8601 in UTC with `Z`; ids are UUIDs. Paths work with or without their trailing slash."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "tags": [
            {"name": "schedules", "description": "Export schedules."},
            {"name": "history", "description": "Runs: list, details, download, rerun, statistics."},
            {"name": "notifications", "description": "Per-business notification settings (owners)."},
            {"name": "exports", "description": "One-off exports."},
            {"name": "recipes", "description": "Ready-made schedules and saved presets."},
            {"name": "meta", "description": "This document."},
            *openapi_people.TAGS,
        ],
        "paths": paths,
        "components": {
            **_components(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token from `flask users token EMAIL`.",
                },
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The dashboard's session; unsafe methods also need X-CSRFToken.",
                },
            },
        },
    }


@bp.route("/api/openapi.json", methods=["GET"])
def openapi_json():
    response = jsonify(document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def api_routes(app=None) -> list[tuple[str, str]]:
    """(OpenAPI path, lower-case method) for every /api/ rule of the URL map (tests compare)."""
    app = app or current_app
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.rule.replace("<uuid:id>", "{id}").replace("<destination_id>", "{destination_id}")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower()))
    return found
