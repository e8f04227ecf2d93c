"""The schedule fields of issue 19 as kinds of the one-declaration mechanism (services/fields.py):
`destinations` (a list of destination objects) and `file_password` (write-only).

Kind.clean checks what a request can be judged on alone (shape, kinds, types, lengths); what needs
the stored schedule (keeping write-only secrets, encrypting, the outbound check and the SFTP host
key pin) happens in `services.destinations.store_destinations` when the schedule is saved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.core.errors import ErrorCollector
from dashboard.destinations.channels import CHANNELS, get_channel
from dashboard.services.destinations import MAX_DESTINATIONS, READ_ONLY_KEYS, clean_destination_items
from dashboard.services.protection import MAX_LENGTH, MIN_LENGTH, password_error


def _field_schema(spec) -> dict[str, Any]:
    if spec.type is int:
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 65535}
    else:
        schema = {"type": "string", "maxLength": spec.max_length}
    if spec.secret:
        schema["writeOnly"] = True
        schema["description"] = "Write-only: never returned; left out or null keeps the stored one."
    if not spec.required or spec.secret:
        schema["type"] = [schema["type"], "null"]
    return schema


def destination_schema(kind: str) -> dict[str, Any]:
    channel = get_channel(kind)
    properties: dict[str, Any] = {
        "kind": {"type": "string", "const": kind},
        "id": {
            "type": ["string", "null"],
            "maxLength": 64,
            "description": "Keeps an existing destination (and its secrets).",
        },
        **{spec.name: _field_schema(spec) for spec in channel.fields},
    }
    for name in READ_ONLY_KEYS:
        properties[name] = {"readOnly": True, "description": "Returned by GET; ignored when sent back."}
    return {
        "type": "object",
        "title": channel.label,
        "properties": properties,
        "required": ["kind"],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class DestinationList:
    form = "none"  # the schedule form's own destinations partial carries them

    def clean(self, field, errors: ErrorCollector, value: object, context) -> Any:
        return clean_destination_items(value, errors, field.name)

    def schema(self, field) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": MAX_DESTINATIONS,
            "items": {"oneOf": [destination_schema(kind) for kind in sorted(CHANNELS)]},
        }


@dataclass(frozen=True)
class FilePassword:
    form = "none"  # the destinations partial carries it (left out keeps the stored one)

    def clean(self, field, errors: ErrorCollector, value: object, context) -> Any:
        message = password_error(value)
        if message:
            errors.add(field.name, message)
            return None
        return value

    def schema(self, field) -> dict[str, Any]:
        return {
            "type": ["string", "null"],
            "writeOnly": True,
            "maxLength": MAX_LENGTH,
            "anyOf": [
                {"type": "null"},
                {"type": "string", "maxLength": 0},
                {"type": "string", "minLength": MIN_LENGTH},
            ],
        }
