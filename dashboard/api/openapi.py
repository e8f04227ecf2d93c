"""GET /api/openapi.json: the OpenAPI 3.1 document of the JSON API, written by hand as a dict.

It is kept true by tests: every /api/ route and method of the URL map must appear here, and
schemathesis sends generated requests to every operation and validates the answers against it.
Public (no sign-in): it describes the API, it holds no business data.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from flask import Blueprint, current_app, jsonify

from dashboard.api import openapi_recipes
from dashboard.exports.filters import DATE_RANGES
from dashboard.models.automation import EXPORT_TYPES, FORMATS, FREQUENCIES, STATUSES, TRIGGERS
from dashboard.services.validation import READ_ONLY_SCHEDULE_FIELDS

bp = Blueprint("api_openapi", __name__)

AUTOMATION = "/api/reports/automation"

_NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
_NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
_DATETIME = {"type": "string", "format": "date-time"}
_UUID = {"type": "string", "format": "uuid"}
_EMAIL_LIST = {"type": "array", "items": {"type": "string", "format": "email", "maxLength": 254}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


# --------------------------------------------------------------------------------------------
# Schemas

_TIMING_PROPERTIES: dict[str, Any] = {
    "frequency": {"type": "string", "enum": list(FREQUENCIES)},
    "hour": {"type": "integer", "minimum": 0, "maximum": 23, "description": "Wall-clock hour in `timezone`."},
    "minute": {"type": "integer", "minimum": 0, "maximum": 59, "default": 0},
    "day_of_week": {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 6,
        "description": "0 = Monday ... 6 = Sunday. WEEKLY needs it; MONTHLY with `week_of_month` too.",
    },
    "day_of_month": {
        "type": ["integer", "null"],
        "minimum": -1,
        "maximum": 31,
        "not": {"const": 0},
        "description": "MONTHLY: 1-31, or -1 for the last day; a day past a month's end runs on its last day.",
    },
    "week_of_month": {
        "type": ["integer", "null"],
        "minimum": -1,
        "maximum": 4,
        "not": {"const": 0},
        "description": 'MONTHLY with `day_of_week`: 1-4, or -1 for the last ("2nd Tuesday", "last Friday").',
    },
    "timezone": {
        "type": "string",
        "maxLength": 64,
        "description": "IANA timezone name; default the business's timezone.",
        "examples": ["UTC", "Europe/London", "America/New_York"],
    },
}

FILTERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "By export type. SALES and AUDIT_LOGS need `start_date` and `end_date` (YYYY-MM-DD, inclusive) "
        "or `date_range`. CUSTOMERS: `include_credit_history`. INVENTORY: `exclude_zero_value`. "
        "An unknown key is a 400."
    ),
    "properties": {
        "start_date": {"type": "string", "format": "date"},
        "end_date": {"type": "string", "format": "date"},
        "date_range": {"type": "string", "enum": list(DATE_RANGES)},
        "include_credit_history": {"type": "boolean"},
        "exclude_zero_value": {"type": "boolean"},
    },
}

_SCHEDULE_WRITABLE: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 255},
    "export_type": {"type": "string", "enum": list(EXPORT_TYPES)},
    "format": {"type": "string", "enum": list(FORMATS)},
    **_TIMING_PROPERTIES,
    "recipients": {**_EMAIL_LIST, "description": "At most MAX_RECIPIENTS (50) addresses."},
    "include_creator_email": {"type": "boolean", "default": False},
    "email_subject": {"type": "string", "maxLength": 255},
    "email_message": {"type": "string"},
    "filters": FILTERS_SCHEMA,
    "skip_if_empty": {"type": "boolean", "default": False},
    "is_active": {"type": "boolean", "default": True},
}

OCCURRENCE = {
    "type": "object",
    "required": ["utc", "local", "dst_shifted"],
    "properties": {
        "utc": {**_DATETIME, "examples": ["2027-03-14T07:30:00Z"]},
        "local": {**_DATETIME, "examples": ["2027-03-14T03:30:00-04:00"]},
        "dst_shifted": {"type": "boolean"},
    },
}

SCHEDULE = {
    "type": "object",
    "required": [
        "id",
        "name",
        "export_type",
        "format",
        "frequency",
        "hour",
        "minute",
        "day_of_week",
        "day_of_month",
        "week_of_month",
        "timezone",
        "recipients",
        "include_creator_email",
        "email_subject",
        "email_message",
        "filters",
        "skip_if_empty",
        "is_active",
        "last_run_at",
        "next_run_at",
        "created_at",
        "updated_at",
        "created_by_name",
        "next_run_display",
        "last_run_display",
        "status_display",
        "next_runs",
    ],
    "properties": {
        "id": _UUID,
        **deepcopy(_SCHEDULE_WRITABLE),
        "filters": {"type": "object"},
        "recipients": {"type": "array", "items": {"type": "string"}},
        "email_message": {"type": "string"},
        "last_run_at": _NULLABLE_DATETIME,
        "next_run_at": {**_NULLABLE_DATETIME, "description": "UTC; null while inactive."},
        "created_at": _DATETIME,
        "updated_at": _DATETIME,
        "created_by": _NULLABLE_UUID,
        "created_by_name": {"type": ["string", "null"]},
        "export_type_display": {"type": "string"},
        "format_display": {"type": "string"},
        "frequency_display": {"type": "string"},
        "filters_display": {"type": "string"},
        "schedule_description": {"type": "string", "examples": ["Every Monday at 09:00 (Europe/London)"]},
        "next_run_display": {"type": "string", "examples": ["In 2 hours"]},
        "last_run_display": {"type": "string", "examples": ["Never run", "2 days ago"]},
        "status_display": {"type": "string", "enum": ["Active", "Inactive", "Overdue"]},
        "next_runs": {"type": "array", "items": _ref("Occurrence"), "maxItems": 5},
    },
}

# What GET returns besides the writable fields: sent back (a GET-modify-PUT) they are ignored.
# Any other field is a 400 naming it (contract section 6), hence additionalProperties: false.
_SCHEDULE_ECHOED: dict[str, Any] = {
    name: {"readOnly": True, "description": "Returned by GET; ignored when sent back."}
    for name in sorted(READ_ONLY_SCHEDULE_FIELDS)
}
UNKNOWN_FIELD_NOTE = ' An unknown field is a 400 naming it: `{"errors": {"recipents": ["Unknown field."]}}`.'

SCHEDULE_CREATE = {
    "type": "object",
    "description": "The schedule's writable fields." + UNKNOWN_FIELD_NOTE,
    "required": ["name", "export_type", "format", "frequency", "hour"],
    "properties": {**deepcopy(_SCHEDULE_WRITABLE), **deepcopy(_SCHEDULE_ECHOED)},
    "additionalProperties": False,
}

SCHEDULE_PATCH = {
    "type": "object",
    "description": "Any subset of the schedule's writable fields." + UNKNOWN_FIELD_NOTE,
    "properties": {**deepcopy(_SCHEDULE_WRITABLE), **deepcopy(_SCHEDULE_ECHOED)},
    "additionalProperties": False,
}

PREVIEW_REQUEST = {
    "type": "object",
    "required": ["frequency", "hour"],
    "properties": {
        **deepcopy(_TIMING_PROPERTIES),
        "after": {**_DATETIME, "description": "ISO 8601; default now."},
        "count": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
    },
    "additionalProperties": False,
}

PREVIEW = {
    "type": "object",
    "required": ["timezone", "occurrences"],
    "properties": {
        "timezone": {"type": "string"},
        "description": {"type": "string", "examples": ["Every day at 08:00 (UTC)"]},
        "occurrences": {"type": "array", "items": _ref("Occurrence")},
    },
}

TRIGGER_REQUEST = {
    "type": "object",
    "properties": {
        "send_email": {"type": "boolean", "default": True},
        "override_recipients": {
            **_EMAIL_LIST,
            "description": "Send the export to these addresses instead of the schedule's recipients.",
        },
    },
    "additionalProperties": False,
}

ONE_OFF_REQUEST = {
    "type": "object",
    "required": ["export_type", "format"],
    "properties": {
        "export_type": {"type": "string", "enum": list(EXPORT_TYPES)},
        "format": {"type": "string", "enum": list(FORMATS)},
        "filters": FILTERS_SCHEMA,
        "recipients": _EMAIL_LIST,
    },
    "additionalProperties": False,
}

EMAIL_DELIVERY = {
    "type": "object",
    "required": ["email", "accepted", "error"],
    "properties": {
        "email": {"type": "string"},
        "accepted": {"type": "boolean"},
        "error": {"type": ["string", "null"]},
        "held": {
            "type": "boolean",
            "const": True,
            "description": "Present (true) while the mail is held by MAIL_DAILY_LIMIT_PER_BUSINESS; "
            "`error` then says why and from when it will be sent. Absent otherwise.",
        },
    },
}

_HISTORY_PROPERTIES: dict[str, Any] = {
    "id": _UUID,
    "schedule": _NULLABLE_UUID,
    "schedule_name": {
        "type": ["string", "null"],
        "description": "The schedule's name as it ran (kept after the schedule is deleted).",
    },
    "user": _NULLABLE_UUID,
    "user_name": {"type": ["string", "null"]},
    "export_type": {"type": "string", "enum": list(EXPORT_TYPES)},
    "format": {"type": "string", "enum": list(FORMATS)},
    "export_type_display": {"type": "string", "examples": ["Sales"]},
    "format_display": {"type": "string", "examples": ["Excel"]},
    "trigger": {"type": "string", "enum": list(TRIGGERS)},
    "trigger_display": {"type": "string"},
    "status": {"type": "string", "enum": list(STATUSES)},
    "status_display": {"type": "string", "examples": ["Completed", "Failed"]},
    "started_at": _NULLABLE_DATETIME,
    "completed_at": _NULLABLE_DATETIME,
    "duration_seconds": {"type": ["number", "null"]},
    "duration_display": {
        "type": ["string", "null"],
        "examples": ["45s", "2m 15s"],
        "description": "null until the run has finished.",
    },
    "file_name": {"type": "string"},
    "file_size": {"type": "integer", "minimum": 0},
    "file_size_mb": {"type": "number"},
    "file_size_display": {"type": ["string", "null"], "examples": ["1.5 MB"]},
    "file_path": {"type": "string", "description": "Where the file is stored; empty once cleaned up."},
    "record_count": {"type": "integer", "minimum": 0},
    "total_records": {
        "type": ["integer", "null"],
        "description": "Records matched, when a PDF held only the first PDF_MAX_ROWS of them.",
    },
    "truncated": {"type": "boolean"},
    "filters_applied": {
        "type": "object",
        "description": "The filters as run: any date_range resolved to its start_date and end_date.",
    },
    "filters_display": {"type": "string"},
    "send_email": {"type": "boolean"},
    "override_recipients": {"type": ["array", "null"], "items": {"type": "string"}},
    "email_sent": {"type": "boolean"},
    "email_recipients": {"type": "array", "items": {"type": "string"}},
    "email_sent_at": _NULLABLE_DATETIME,
    "email_delivery": {"type": "array", "items": _ref("EmailDelivery")},
    "error_message": {"type": "string"},
    "created_at": _DATETIME,
    "download_url": {
        "type": ["string", "null"],
        "description": "The API download path when the file can be downloaded, else null.",
    },
    "attempt": {"type": "integer", "minimum": 1},
    "retry_of": _NULLABLE_UUID,
    "next_retry_at": _NULLABLE_DATETIME,
    "occurrence_at": {**_NULLABLE_DATETIME, "description": "The scheduled occurrence this run is for."},
    "progress": {"type": "integer", "minimum": 0, "description": "Records written so far while running."},
}

HISTORY = {
    "type": "object",
    "required": [
        "id",
        "schedule",
        "schedule_name",
        "user",
        "user_name",
        "export_type",
        "format",
        "trigger",
        "status",
        "status_display",
        "started_at",
        "completed_at",
        "duration_display",
        "file_name",
        "file_size",
        "file_size_display",
        "record_count",
        "filters_applied",
        "email_sent",
        "email_recipients",
        "email_sent_at",
        "email_delivery",
        "error_message",
        "created_at",
        "download_url",
        "attempt",
        "retry_of",
        "progress",
    ],
    "properties": _HISTORY_PROPERTIES,
    "not": {"required": ["error_traceback"]},
}

HISTORY_DETAIL = {
    "type": "object",
    "required": [*HISTORY["required"], "error_traceback"],
    "properties": {**_HISTORY_PROPERTIES, "error_traceback": {"type": "string"}},
}

_COUNTS = {
    "type": "object",
    "required": ["total", "successful", "failed"],
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "successful": {"type": "integer", "minimum": 0},
        "failed": {"type": "integer", "minimum": 0},
    },
}

STATISTICS = {
    "type": "object",
    "required": [
        "total_exports",
        "successful_exports",
        "failed_exports",
        "success_rate",
        "by_type",
        "by_format",
        "recent_exports_7_days",
        "average_file_size_mb",
        "daily",
    ],
    "properties": {
        "total_exports": {"type": "integer", "minimum": 0},
        "successful_exports": {"type": "integer", "minimum": 0},
        "failed_exports": {"type": "integer", "minimum": 0},
        "success_rate": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 100,
            "description": "100 x successful / (successful + failed), one decimal; null when nothing finished.",
        },
        "by_type": {"type": "object", "additionalProperties": _COUNTS},
        "by_format": {"type": "object", "additionalProperties": _COUNTS},
        "recent_exports_7_days": {"type": "integer", "minimum": 0},
        "average_file_size_mb": {"type": ["number", "null"]},
        "daily": {
            "type": "array",
            "minItems": 30,
            "maxItems": 30,
            "items": {
                "type": "object",
                "required": ["date", "total", "successful", "failed"],
                "properties": {
                    "date": {"type": "string", "format": "date"},
                    "total": {"type": "integer", "minimum": 0},
                    "successful": {"type": "integer", "minimum": 0},
                    "failed": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}

_NOTIFICATION_WRITABLE = {
    "notify_on_success": {"type": "boolean"},
    "notify_on_failure": {"type": "boolean"},
    "default_recipients": _EMAIL_LIST,
    "from_name": {"type": "string", "maxLength": 255},
    "reply_to_email": {
        "type": "string",
        "maxLength": 254,
        "description": "An e-mail address, or an empty string for none.",
        "anyOf": [{"format": "email"}, {"const": ""}],
    },
    "allowed_recipient_domains": {
        "type": "array",
        "maxItems": 50,
        "items": {"type": "string", "maxLength": 253, "examples": ["example.com"]},
        "description": "Domain names (lower-cased; a leading @ is dropped). When not empty, every "
        "recipient of a schedule, one-off export, trigger override or notice must be at one of them "
        "or a subdomain: checked when saving (400) and again when sending (not sent, recorded in "
        "email_delivery). Empty: any domain.",
    },
}

NOTIFICATION_SETTINGS = {
    "type": "object",
    "required": list(_NOTIFICATION_WRITABLE),
    "properties": {
        **deepcopy(_NOTIFICATION_WRITABLE),
        "default_recipients": {"type": "array", "items": {"type": "string"}},
        "reply_to_email": {"type": "string"},
        "updated_at": _DATETIME,
    },
}

NOTIFICATION_UPDATE = {
    "type": "object",
    "description": "PUT and PATCH both update only the fields sent." + UNKNOWN_FIELD_NOTE,
    "properties": {
        **deepcopy(_NOTIFICATION_WRITABLE),
        "updated_at": {"readOnly": True, "description": "Returned by GET; ignored when sent back."},
    },
    "additionalProperties": False,
}

ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}},
}

VALIDATION_ERROR = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "object",
            "description": 'Field name -> messages; cross-field errors under "non_field_errors".',
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    },
}


def _paginated(item: str) -> dict:
    return {
        "type": "object",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "items": _ref(item)},
        },
    }


# --------------------------------------------------------------------------------------------
# Examples (the seed's usage examples, and the contract's additions)

SCHEDULE_EXAMPLES: dict[str, Any] = {
    "daily_sales_at_8": {
        "name": "Daily Sales Report - 8 AM",
        "export_type": "SALES",
        "format": "excel",
        "frequency": "DAILY",
        "hour": 8,
        "recipients": ["accounting@company.com"],
        "include_creator_email": True,
        "email_subject": "Daily Sales Report",
        "filters": {"date_range": "yesterday"},
        "is_active": True,
    },
    "weekly_customers_on_monday": {
        "name": "Weekly Customer List - Monday 9 AM",
        "export_type": "CUSTOMERS",
        "format": "csv",
        "frequency": "WEEKLY",
        "hour": 9,
        "day_of_week": 0,
        "recipients": ["sales@company.com", "manager@company.com"],
        "include_creator_email": False,
        "email_subject": "Weekly Customer Database",
        "filters": {"include_credit_history": True},
        "is_active": True,
    },
    "monthly_inventory_on_the_1st": {
        "name": "Monthly Inventory Snapshot",
        "export_type": "INVENTORY",
        "format": "pdf",
        "frequency": "MONTHLY",
        "hour": 0,
        "day_of_month": 1,
        "recipients": ["inventory@company.com"],
        "include_creator_email": True,
        "email_subject": "Monthly Inventory Report",
        "email_message": "Please review the attached inventory snapshot for the previous month.",
        "filters": {"exclude_zero_value": True},
        "is_active": True,
    },
    "last_friday_in_new_york": {
        "name": "Month-end audit",
        "export_type": "AUDIT_LOGS",
        "format": "csv",
        "frequency": "MONTHLY",
        "hour": 17,
        "minute": 30,
        "week_of_month": -1,
        "day_of_week": 4,
        "timezone": "America/New_York",
        "filters": {"date_range": "month_to_date"},
        "skip_if_empty": True,
    },
}

PREVIEW_EXAMPLES: dict[str, Any] = {
    "spring_forward": {
        "frequency": "DAILY",
        "hour": 2,
        "minute": 30,
        "timezone": "America/New_York",
        "after": "2027-03-12T00:00:00Z",
        "count": 3,
    },
    "second_tuesday": {"frequency": "MONTHLY", "hour": 9, "week_of_month": 2, "day_of_week": 1},
}

TRIGGER_EXAMPLES: dict[str, Any] = {
    "as_configured": {},
    "to_someone_else": {"send_email": True, "override_recipients": ["auditor@company.com"]},
    "no_mail": {"send_email": False},
}

ONE_OFF_EXAMPLES: dict[str, Any] = {
    "last_month_sales": {
        "export_type": "SALES",
        "format": "csv",
        "filters": {"date_range": "previous_month"},
        "recipients": ["accounting@company.com"],
    },
    "stock_now": {"export_type": "INVENTORY", "format": "excel", "filters": {"exclude_zero_value": True}},
}

NOTIFICATION_EXAMPLES: dict[str, Any] = {
    "seed": {
        "notify_on_success": True,
        "notify_on_failure": True,
        "default_recipients": ["admin@company.com"],
        "from_name": "POS Export Service",
        "reply_to_email": "noreply@company.com",
    },
}


# --------------------------------------------------------------------------------------------
# Parameters and responses

PAGE_PARAMETERS = [
    {
        "name": "page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "default": 1},
        "description": "From 1; a page past the end is a 404.",
    },
    {
        "name": "page_size",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "default": 20},
        "description": "Default 20; above 100 is clamped to 100.",
    },
]

CURSOR_PARAMETER = {
    "name": "cursor",
    "in": "query",
    "schema": {"type": "string", "maxLength": 200},
    "description": (
        "An opaque position from a list's `next` or `previous` link (the links carry one): the "
        "page after or before it, as cheap deep as on page 1. Not sent together with `page`."
    ),
}

ID_PARAMETER = {"name": "id", "in": "path", "required": True, "schema": _UUID}

RESPONSES = {
    "BadRequest": _json(_ref("ValidationError"), "Invalid input: per-field messages."),
    "Unauthorized": {
        **_json(_ref("Error"), "Not signed in, or the API token is invalid, expired or revoked."),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "Forbidden": _json(
        _ref("Error"), "Signed in, but not allowed (an owner-only endpoint, or no CSRF token)."
    ),
    "NotFound": _json(_ref("Error"), "No such object in this business (or a page past the end)."),
    "Conflict": _json(_ref("Error"), "Not possible in the object's current state."),
    "TooLarge": _json(_ref("Error"), "The body is larger than API_MAX_BODY_KB."),
    "UnsupportedMediaType": _json(_ref("ValidationError"), "The body is not JSON."),
    "StorageUnavailable": {
        **_json(
            _ref("Error"),
            "The file store is not answering; the file is kept: retry after Retry-After seconds.",
        ),
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
    "TooManyRequests": {
        **_json(_ref("Error"), "Too many requests for this token or user: wait and retry."),
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
    "QueueFull": {
        **_json(
            _ref("Error"),
            "Too many requests for this token or user, or the business already has "
            "EXPORT_MAX_QUEUED_PER_BUSINESS exports waiting to run (nothing was created): retry after "
            "Retry-After seconds. The scheduler's own runs are never refused.",
        ),
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
}


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


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "schema": schema, "description": description}


SCHEDULE_FILTERS = [
    _query("is_active", {"type": "boolean"}, "true or false."),
    _query("export_type", {"type": "string", "enum": list(EXPORT_TYPES)}, "One export type."),
    _query("frequency", {"type": "string", "enum": list(FREQUENCIES)}, "One frequency."),
]

HISTORY_FILTERS = [
    _query("export_type", {"type": "string", "enum": list(EXPORT_TYPES)}, "One export type."),
    _query("format", {"type": "string", "enum": list(FORMATS)}, "One format."),
    _query("status", {"type": "string", "enum": list(STATUSES)}, "One status."),
    _query("trigger", {"type": "string", "enum": list(TRIGGERS)}, "One trigger."),
    _query("schedule_id", _UUID, "Runs of one schedule."),
    _query(
        "start_date",
        {"type": "string", "format": "date"},
        "Created on or after this date (YYYY-MM-DD, the business's timezone).",
    ),
    _query(
        "end_date",
        {"type": "string", "format": "date"},
        "Created on or before this date (YYYY-MM-DD, the business's timezone).",
    ),
]


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
                parameters=[*SCHEDULE_FILTERS, *PAGE_PARAMETERS],
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
                body=_ref("ScheduleCreate"),
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
                parameters=[*HISTORY_FILTERS, *PAGE_PARAMETERS, CURSOR_PARAMETER],
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
                description="409 unless the run is COMPLETED or EMAILED and its file still exists; 503 "
                "(with Retry-After) while the file store does not answer.",
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


SCHEMAS = {
    "Schedule": SCHEDULE,
    "ScheduleCreate": SCHEDULE_CREATE,
    "SchedulePatch": SCHEDULE_PATCH,
    "Occurrence": OCCURRENCE,
    "PreviewRequest": PREVIEW_REQUEST,
    "Preview": PREVIEW,
    "TriggerRequest": TRIGGER_REQUEST,
    "OneOffExportRequest": ONE_OFF_REQUEST,
    "Filters": FILTERS_SCHEMA,
    "EmailDelivery": EMAIL_DELIVERY,
    "History": HISTORY,
    "HistoryDetail": HISTORY_DETAIL,
    "Statistics": STATISTICS,
    "NotificationSettings": NOTIFICATION_SETTINGS,
    "NotificationSettingsUpdate": NOTIFICATION_UPDATE,
    "PaginatedSchedules": _paginated("Schedule"),
    "PaginatedHistory": _paginated("History"),
    "Error": ERROR,
    "ValidationError": VALIDATION_ERROR,
}


def _operation_id(method: str, path: str) -> str:
    words = [w for w in path.replace("/api/reports/", "").replace("{id}", "by_id").split("/") if w]
    return method + "_" + "_".join(words)


def document() -> dict[str, Any]:
    paths = _paths()
    paths.update(openapi_recipes.paths(AUTOMATION, _op, _json, _ref))
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
        ],
        "paths": paths,
        "components": {
            "schemas": {
                **deepcopy(SCHEMAS),
                **openapi_recipes.schemas(_ref, FILTERS_SCHEMA),
                "PaginatedPresets": _paginated("Preset"),
            },
            "responses": deepcopy(RESPONSES),
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
        path = rule.rule.replace("<uuid:id>", "{id}")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower()))
    return found
