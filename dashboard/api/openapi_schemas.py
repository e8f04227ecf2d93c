"""The OpenAPI document's components: request bodies and query parameters written from the fields
declared once in `services.field_sets` (types, nullable, enums, minimum/maximum, lengths, and the
rules across fields as `if`/`then`/`oneOf`), and the response bodies, written here.

A request schema is never written by hand: add or change a field in its declaration and the
document follows (tests compare the two).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from dashboard.api.openapi_delivery import DESTINATION_DELIVERY, EMAIL_DELIVERY
from dashboard.models.automation import EXPORT_TYPES, FAILURE_CATEGORIES, FORMATS, STATUSES, TRIGGERS
from dashboard.services.field_rules import FORMAT_REQUIRED_SCHEMA
from dashboard.services.field_sets import (
    HISTORY_QUERY,
    NOTIFICATIONS,
    ONE_OFF,
    PREVIEW,
    SCHEDULE,
    SCHEDULE_LIST_QUERY,
    TRIGGER,
)

UNKNOWN_FIELD_NOTE = ' An unknown field is a 400 naming it: `{"errors": {"recipents": ["Unknown field."]}}`.'
SCHEDULE_FIELDS = SCHEDULE.names

_NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
_NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
_DATETIME = {"type": "string", "format": "date-time"}
_UUID = {"type": "string", "format": "uuid"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


def _properties(names) -> dict[str, Any]:
    """The declared fields' schemas, for a response that returns them."""
    return {name: SCHEDULE[name].schema() for name in names}


# --------------------------------------------------------------------------------------------
# Request bodies and query parameters, from the declarations

SCHEDULE_CREATE = SCHEDULE.json_schema(description="The schedule's writable fields." + UNKNOWN_FIELD_NOTE)
SCHEDULE_REPLACE = SCHEDULE.json_schema(
    description="Every required field; optional fields left out keep their stored values, and the rules "
    "across fields (days by frequency, filters by export type) run on the merged result: a conflict "
    "with what is stored is a 409." + UNKNOWN_FIELD_NOTE,
    partial=True,
    required=list(SCHEDULE.required),
)
SCHEDULE_REPLACE["allOf"] = [*SCHEDULE_REPLACE.get("allOf", []), FORMAT_REQUIRED_SCHEMA]  # as on create
SCHEDULE_PATCH = SCHEDULE.json_schema(
    partial=True,
    description="Any subset of the schedule's writable fields, merged onto the stored schedule: a "
    "conflict with what is stored (e.g. a day_of_month sent to a WEEKLY schedule) is a 409."
    + UNKNOWN_FIELD_NOTE,
)
PREVIEW_REQUEST = PREVIEW.json_schema()
TRIGGER_REQUEST = TRIGGER.json_schema()
ONE_OFF_REQUEST = ONE_OFF.json_schema()
NOTIFICATION_UPDATE = NOTIFICATIONS.json_schema(
    partial=True, description="PUT and PATCH both update only the fields sent." + UNKNOWN_FIELD_NOTE
)
FILTERS_SCHEMA = SCHEDULE["filters"].schema()
SCHEDULE_LIST_PARAMETERS = SCHEDULE_LIST_QUERY.parameters()
HISTORY_LIST_PARAMETERS = HISTORY_QUERY.parameters()

# --------------------------------------------------------------------------------------------
# Responses

OCCURRENCE = {
    "type": "object",
    "required": ["utc", "local", "dst_shifted"],
    "properties": {
        "utc": {**_DATETIME, "examples": ["2027-03-14T07:30:00Z"]},
        "local": {**_DATETIME, "examples": ["2027-03-14T03:30:00-04:00"]},
        "dst_shifted": {"type": "boolean"},
    },
}

SCHEDULE_RESPONSE = {
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
        "conditions",
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
        **_properties(SCHEDULE_FIELDS),
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
        "file_password_set": {"type": "boolean", "description": "Whether the files are password-protected."},
    },
}


PREVIEW_RESPONSE = {
    "type": "object",
    "required": ["timezone", "occurrences"],
    "properties": {
        "timezone": {"type": "string"},
        "description": {"type": "string", "examples": ["Every day at 08:00 (UTC)"]},
        "occurrences": {"type": "array", "items": _ref("Occurrence")},
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
    "destination_delivery": {
        "type": "array",
        "items": _ref("DestinationDelivery"),
        "description": "Each of the schedule's destinations besides e-mail, in order (contract section 6).",
    },
    "error_message": {"type": "string"},
    "failure_category": {
        "type": ["string", "null"],
        "enum": [*FAILURE_CATEGORIES, None],
        "description": "What kind of failure a FAILED run had; null otherwise.",
    },
    "skipped_reason": {
        "type": "string",
        "description": 'Why a COMPLETED run sent nothing: its schedule\'s conditions were not met; "" otherwise.',
    },
    "summary": {
        "type": "object",
        "description": (
            "SALES and INVENTORY: the period's headline figures beside the previous period's "
            "(period, previous_period, headline, figures: [{key, label, kind, current, previous, "
            "change_percent}]); {} for other types."
        ),
    },
    "created_at": _DATETIME,
    "download_url": {
        "type": ["string", "null"],
        "description": "The API download path when the file can be downloaded, else null.",
    },
    "formats": {
        "type": "array",
        "items": {"type": "string", "enum": list(FORMATS)},
        "description": "Every format the run makes, `format` first.",
    },
    "files": {
        "type": "array",
        "description": "The files the run made, one per format, in the order of `formats` (empty until "
        "it completes); `download_url` is null once a file is cleaned up.",
        "items": {
            "type": "object",
            "required": ["format", "file_name", "file_size", "download_url"],
            "properties": {
                "format": {"type": "string", "enum": list(FORMATS)},
                "format_display": {"type": "string"},
                "file_name": {"type": "string"},
                "file_size": {"type": "integer", "minimum": 0},
                "file_size_display": {"type": ["string", "null"]},
                "download_url": {"type": ["string", "null"]},
            },
        },
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


NOTIFICATION_SETTINGS = {
    "type": "object",
    "required": list(NOTIFICATIONS.names),
    "properties": {
        **{f.name: f.schema() for f in NOTIFICATIONS.fields},
        "default_recipients": {"type": "array", "items": {"type": "string"}},
        "reply_to_email": {"type": "string"},
        "from_name": {"type": "string"},
        "allowed_recipient_domains": {"type": "array", "items": {"type": "string"}},
        "updated_at": _DATETIME,
    },
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
    "StateConflict": _json(
        _ref("ValidationError"),
        "Well formed, but in conflict with what is stored: the schedule's other fields (a PUT or PATCH "
        "merged onto it breaks a rule, e.g. a day_of_month sent to a WEEKLY schedule) or the business's "
        "allowed_recipient_domains. Per-field messages, as for a 400.",
    ),
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


SCHEMAS = {
    "Schedule": SCHEDULE_RESPONSE,
    "ScheduleCreate": SCHEDULE_CREATE,
    "ScheduleReplace": SCHEDULE_REPLACE,
    "SchedulePatch": SCHEDULE_PATCH,
    "Occurrence": OCCURRENCE,
    "PreviewRequest": PREVIEW_REQUEST,
    "Preview": PREVIEW_RESPONSE,
    "TriggerRequest": TRIGGER_REQUEST,
    "OneOffExportRequest": ONE_OFF_REQUEST,
    "Filters": FILTERS_SCHEMA,
    "EmailDelivery": EMAIL_DELIVERY,
    "DestinationDelivery": DESTINATION_DELIVERY,
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


def components() -> dict[str, Any]:
    return {"schemas": deepcopy(SCHEMAS), "responses": deepcopy(RESPONSES)}
