"""The OpenAPI schemas of a run's delivery results: `email_delivery` (one entry per recipient) and
`destination_delivery` (one per destination), as contract sections 4 and 6 define them."""

from __future__ import annotations

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

DESTINATION_DELIVERY = {
    "type": "object",
    "required": ["kind", "target", "delivered", "error", "attempts"],
    "properties": {
        "kind": {"type": "string", "enum": ["webhook", "slack", "teams", "sftp", "s3"]},
        "target": {"type": "string", "description": "Where it went, without secrets."},
        "delivered": {"type": "boolean"},
        "error": {"type": ["string", "null"], "description": "null once delivered."},
        "attempts": {"type": "integer", "minimum": 0},
    },
}
