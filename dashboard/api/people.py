"""/api/business/members/, /api/business/tokens/ (owners) and /api/me/ (everyone): parse, call the
members, tokens or account service, render."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import login_user

from dashboard.api.common import (
    api_blueprint,
    api_business,
    api_membership,
    api_user,
    json_body,
    no_content,
    paginate,
    route,
)
from dashboard.core.errors import ErrorCollector
from dashboard.models.pos import ROLE_OWNER
from dashboard.services import account, members, tokens
from dashboard.services.validation import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MSG_PAGE, MSG_PAGE_SIZE
from dashboard.tenancy import role_required

members_bp = api_blueprint("api_members", __name__, "/api/business/members")
tokens_bp = api_blueprint("api_tokens", __name__, "/api/business/tokens")
me_bp = api_blueprint("api_me", __name__, "/api/me")


def _page_params() -> tuple[int, int]:
    errors = ErrorCollector()
    values = {}
    for name, default, message in (("page", 1, MSG_PAGE), ("page_size", DEFAULT_PAGE_SIZE, MSG_PAGE_SIZE)):
        raw = request.args.get(name, "")
        if raw == "":
            values[name] = default
        elif raw.isdigit() and len(raw) < 10 and int(raw) >= 1:
            values[name] = int(raw)
        else:
            errors.add(name, message)
    errors.raise_if_any()
    return values["page"], min(values["page_size"], MAX_PAGE_SIZE)


def _created(body: dict[str, Any]):
    response = jsonify(body)
    response.status_code = 201
    return response


# --------------------------------------------------------------------------------------------
# Members


@route(members_bp, "/", ["GET"])
@role_required(ROLE_OWNER)
def list_members():
    page, page_size = _page_params()
    return paginate(members.members_query(api_business()), page, page_size, members.member_to_dict)


@route(members_bp, "/", ["POST"])
@role_required(ROLE_OWNER)
def invite_member():
    outcome = members.invite(api_business(), api_user(), json_body())
    return _created({**members.member_to_dict(outcome.membership), "mail_sent": outcome.delivered})


@route(members_bp, "/<uuid:id>/", ["GET"])
@role_required(ROLE_OWNER)
def get_member(id):
    return jsonify(members.member_to_dict(members.require_member(api_business(), id)))


@route(members_bp, "/<uuid:id>/", ["PATCH", "PUT"])
@role_required(ROLE_OWNER)
def update_member(id):
    membership = members.require_member(api_business(), id)
    return jsonify(
        members.member_to_dict(members.change_role(api_business(), api_user(), membership, json_body()))
    )


@route(members_bp, "/<uuid:id>/", ["DELETE"])
@role_required(ROLE_OWNER)
def remove_member(id):
    members.remove(api_business(), api_user(), members.require_member(api_business(), id))
    return no_content()


@route(members_bp, "/<uuid:id>/resend/", ["POST"])
@role_required(ROLE_OWNER)
def resend_invitation(id):
    membership = members.require_member(api_business(), id)
    sent = members.resend_invitation(api_business(), api_user(), membership)
    return jsonify({**members.member_to_dict(membership), "mail_sent": sent})


# --------------------------------------------------------------------------------------------
# Tokens


@route(tokens_bp, "/", ["GET"])
@role_required(ROLE_OWNER)
def list_tokens():
    page, page_size = _page_params()
    return paginate(tokens.tokens_query(api_business()), page, page_size, tokens.token_to_dict)


@route(tokens_bp, "/", ["POST"])
@role_required(ROLE_OWNER)
def create_token():
    row, token = tokens.create(api_business(), api_membership(), json_body())
    # The only time the token itself is shown: only its hash is kept.
    return _created({**tokens.token_to_dict(row), "token": token})


@route(tokens_bp, "/<uuid:id>/", ["DELETE"])
@role_required(ROLE_OWNER)
def revoke_token(id):
    token = tokens.require_token(api_business(), id)
    tokens.revoke(api_business(), api_user(), token)
    return no_content()


# --------------------------------------------------------------------------------------------
# The signed-in person


@route(me_bp, "/", ["GET"])
def me():
    user, membership = api_user(), api_membership()
    return jsonify(
        {
            "id": str(user.id),
            "email": user.email,
            "name": user.name,
            "business": {"id": str(membership.business_id), "name": membership.business.name},
            "role": membership.role,
        }
    )


@route(me_bp, "/password/", ["POST", "PUT"])
def change_password():
    user = api_user()
    account.change_password(user, json_body())
    _stay_signed_in(user)
    return no_content()


@route(me_bp, "/sign-out-everywhere/", ["POST"])
def sign_out_everywhere():
    account.sign_out_everywhere(api_user())
    return no_content()


def _stay_signed_in(user) -> None:
    """After a password change by session, this browser stays signed in; the others are out."""
    from flask import g

    if g.get("api_auth") == "session":
        login_user(user)
