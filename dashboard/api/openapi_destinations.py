"""The OpenAPI path of "send a test" to a schedule's destination (issue 19); the destinations
themselves are schedule fields, documented from their declaration (services/field_sets.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TEST_RESULT = {
    "type": "object",
    "required": ["delivered", "message"],
    "properties": {
        "delivered": {"type": "boolean"},
        "message": {"type": "string", "examples": ["Test delivered to https://hooks.example.com/in."]},
    },
    "additionalProperties": False,
}


def paths(
    prefix: str, op: Callable[..., dict], json: Callable[..., dict], ref: Callable[[str], dict]
) -> dict[str, Any]:
    operation = op(
        "Send a test to one of the schedule's destinations",
        "schedules",
        {"200": json(TEST_RESULT, "Whether the destination took the test message, and why not.")},
        by_id=True,
        description=(
            "Delivers a small test message (a webhook, Slack or Teams message, or a test file for SFTP "
            "and S3) to the saved destination now. 404 for another business's schedule or an unknown "
            "destination id."
        ),
    )
    operation["parameters"].append(
        {
            "name": "destination_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "maxLength": 64},
        }
    )
    return {f"{prefix}/schedules/{{id}}/destinations/{{destination_id}}/test/": {"post": operation}}
