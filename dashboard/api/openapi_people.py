"""The People part of /api/openapi.json: members and tokens of the business (owners) and the
signed-in person's account (contract section 6). Kept apart from openapi.py, which merges it in."""

from __future__ import annotations

from typing import Any

from dashboard.models.pos import ROLES

_ROLE = {"type": "string", "enum": list(ROLES)}
_DATETIME = {"type": "string", "format": "date-time"}
_NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}

MEMBER = {
    "type": "object",
    "required": ["id", "user_id", "email", "name", "role", "status", "joined_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "The membership's id."},
        "user_id": {"type": "string", "format": "uuid"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "role": _ROLE,
        "status": {
            "type": "string",
            "enum": ["active", "invited"],
            "description": "invited: has not yet chosen a password through the invitation mail.",
        },
        "joined_at": _NULLABLE_DATETIME,
        "mail_sent": {
            "type": "boolean",
            "description": "Invite and resend only: the mail server took the mail.",
        },
    },
}
MEMBER_INVITE = {
    "type": "object",
    "required": ["email"],
    "additionalProperties": False,
    "properties": {
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "role": {**_ROLE, "default": "manager"},
        "name": {"type": "string", "maxLength": 255},
    },
}
MEMBER_UPDATE = {
    "type": "object",
    "required": ["role"],
    "additionalProperties": False,
    "properties": {"role": _ROLE},
}
TOKEN = {
    "type": "object",
    "required": ["id", "name", "prefix", "user_email", "user_name", "role", "status", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "The token's first characters, to recognise it."},
        "user_email": {"type": "string"},
        "user_name": {"type": "string"},
        "role": _ROLE,
        "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
        "created_at": _DATETIME,
        "expires_at": _NULLABLE_DATETIME,
        "revoked_at": _NULLABLE_DATETIME,
    },
}
TOKEN_CREATED = {
    "allOf": [
        {"$ref": "#/components/schemas/ApiToken"},
        {
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": {"type": "string", "description": "The token itself: shown this once only."}
            },
        },
    ]
}
TOKEN_CREATE = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
}
PASSWORD_CHANGE = {
    "type": "object",
    "required": ["current_password", "new_password"],
    "additionalProperties": False,
    "properties": {
        "current_password": {"type": "string"},
        "new_password": {"type": "string", "minLength": 8, "maxLength": 200},
        "new_password_confirm": {"type": "string"},
    },
}
ME = {
    "type": "object",
    "required": ["id", "email", "name", "business", "role"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "business": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}},
        },
        "role": _ROLE,
    },
}

PAGE_PARAMETERS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 20}},
]

SCHEMAS = {
    "Member": MEMBER,
    "MemberInvite": MEMBER_INVITE,
    "MemberUpdate": MEMBER_UPDATE,
    "ApiToken": TOKEN,
    "ApiTokenCreated": TOKEN_CREATED,
    "ApiTokenCreate": TOKEN_CREATE,
    "PasswordChange": PASSWORD_CHANGE,
    "Me": ME,
}


def schemas(paginated) -> dict[str, Any]:
    return {**SCHEMAS, "PaginatedMembers": paginated("Member"), "PaginatedApiTokens": paginated("ApiToken")}


TAGS = [
    {"name": "people", "description": "Members and API tokens of the business (owners only)."},
    {"name": "account", "description": "The signed-in person: password, sign out everywhere."},
]


def paths(op, json, ref, error, paginated) -> dict[str, dict[str, Any]]:
    """The operations, built with openapi.py's own helpers (passed in: no import cycle)."""
    member = json(ref("Member"), "The member.")
    gone = {"204": {"description": "Done."}}
    conflict = {"409": error("Conflict")}
    members, tokens = "/api/business/members", "/api/business/tokens"
    return {
        f"{members}/": {
            "get": op(
                "List the members",
                "people",
                {"200": json(ref("PaginatedMembers"), "A page of members, owners first.")},
                parameters=PAGE_PARAMETERS,
                paginated=True,
            ),
            "post": op(
                "Invite someone",
                "people",
                {
                    "201": json(
                        ref("Member"), "The new member (status invited, or active for an existing account)."
                    )
                },
                body=ref("MemberInvite"),
                description="Mails a signed link (valid INVITATION_DAYS) to choose a password; an existing "
                "account joins at once and is told by mail.",
            ),
        },
        f"{members}/{{id}}/": {
            "get": op("A member", "people", {"200": member}, by_id=True),
            "patch": op(
                "Change a role", "people", {"200": member, **conflict}, body=ref("MemberUpdate"), by_id=True
            ),
            "put": op(
                "Change a role", "people", {"200": member, **conflict}, body=ref("MemberUpdate"), by_id=True
            ),
            "delete": op(
                "Remove a member",
                "people",
                {**gone, **conflict},
                by_id=True,
                description="Their sessions end and this membership's API tokens are revoked. 409 for the "
                "last owner.",
            ),
        },
        f"{members}/{{id}}/resend/": {
            "post": op("Send the invitation again", "people", {"200": member, **conflict}, by_id=True),
        },
        f"{tokens}/": {
            "get": op(
                "List the API tokens",
                "people",
                {"200": json(ref("PaginatedApiTokens"), "A page of unrevoked tokens, newest first.")},
                parameters=PAGE_PARAMETERS,
                paginated=True,
            ),
            "post": op(
                "Create an API token",
                "people",
                {"201": json(ref("ApiTokenCreated"), "The token, shown this once.")},
                body=ref("ApiTokenCreate"),
            ),
        },
        f"{tokens}/{{id}}/": {
            "delete": op("Revoke an API token", "people", {**gone, **conflict}, by_id=True),
        },
        "/api/me/": {"get": op("Who is signed in", "account", {"200": json(ref("Me"), "The person.")})},
        "/api/me/password/": {
            "post": op(
                "Change your password",
                "account",
                {**gone},
                body=ref("PasswordChange"),
                description="Needs the current password; every other session of the person ends.",
            ),
            "put": op("Change your password", "account", {**gone}, body=ref("PasswordChange")),
        },
        "/api/me/sign-out-everywhere/": {
            "post": op(
                "Sign out everywhere", "account", {**gone}, description="Ends every session, this one too."
            ),
        },
    }
