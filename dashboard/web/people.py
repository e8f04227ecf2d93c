"""The People page (owners): members (invite, change a role, remove) and API tokens (create, shown
once; revoke). Each action posts through htmx and gets its section back with a toast; without
JavaScript the same forms post and redirect back here."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from flask_login import current_user, login_required

from dashboard.core.errors import NotPossible, ValidationError
from dashboard.models.pos import ROLES
from dashboard.services import members, tokens
from dashboard.tenancy import current_membership, require_business, role_required
from dashboard.web.common import ERROR, is_htmx, redirect_with_toast, render_fragment, render_page, toast

bp = Blueprint("people", __name__, url_prefix="/people")

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


@bp.before_request
@login_required
@role_required("owner")
def _owners_only():
    require_business()


def _context(**extra: Any) -> dict[str, Any]:
    business = require_business()
    context: dict[str, Any] = {
        "business": business,
        "members": members.list_members(business),
        "tokens": tokens.list_tokens(business),
        "role_choices": ROLE_CHOICES,
        "me": current_user,
        "invite_values": {"email": "", "name": "", "role": "manager"},
        "invite_errors": {},
        "token_values": {"name": ""},
        "token_errors": {},
        "new_token": None,
        "status_of": members.member_status,
        "token_status": tokens.token_status,
    }
    context.update(extra)
    return context


def _members_section(status: int = 200, **extra: Any):
    return render_fragment("people/partials/_members.html", status=status, **_context(**extra))


def _tokens_section(status: int = 200, **extra: Any):
    return render_fragment("people/partials/_tokens.html", status=status, **_context(**extra))


def _done(section, message: str, level: str = "success"):
    """htmx: the section back with a toast; a plain post: back to the page with the message."""
    if not is_htmx():
        return redirect_with_toast(url_for("people.index"), message, level)
    return toast(section, message, level)


@bp.route("/")
def index():
    return render_page("people/page.html", "people/partials/_content.html", **_context())


@bp.route("/members", methods=["POST"])
def invite():
    values = {key: request.form.get(key, "") for key in ("email", "name", "role")}
    try:
        outcome = members.invite(require_business(), current_user, values)
    except ValidationError as exc:
        if not is_htmx():
            return render_page(
                "people/page.html",
                "people/partials/_content.html",
                status=422,
                **_context(invite_values=values, invite_errors=exc.errors),
            )
        return _members_section(status=422, invite_values=values, invite_errors=exc.errors)
    email = outcome.membership.user.email
    if outcome.joined:
        message = f"{email} has joined as {outcome.membership.role}."
    else:
        message = f"Invitation sent to {email}."
    if not outcome.delivered:
        message += " The e-mail could not be sent now: use “Send again” later."
    return _done(_members_section(), message, "success" if outcome.delivered else ERROR)


@bp.route("/members/<member_id>/role", methods=["POST"])
def change_role(member_id: str):
    membership = members.require_member(require_business(), member_id)
    try:
        members.change_role(
            require_business(), current_user, membership, {"role": request.form.get("role", "")}
        )
    except (ValidationError, NotPossible) as exc:
        message = " ".join(sum(exc.errors.values(), [])) if isinstance(exc, ValidationError) else str(exc)
        return _done(_members_section(), message, ERROR)
    return _done(_members_section(), f"{membership.user.email} is now {membership.role}.")


@bp.route("/members/<member_id>/remove", methods=["POST"])
def remove(member_id: str):
    membership = members.require_member(require_business(), member_id)
    removing_self = membership.user_id == current_user.id
    try:
        members.remove(require_business(), current_user, membership)
    except NotPossible as exc:
        return _done(_members_section(), str(exc), ERROR)
    message = (
        f"{membership.user.email} was removed; their sessions and API tokens for this business have ended."
    )
    if removing_self:  # their own session ended with the membership
        return redirect_with_toast(url_for("auth.login"), "You left the business.")
    return _done(_members_section(), message)


@bp.route("/members/<member_id>/resend", methods=["POST"])
def resend(member_id: str):
    membership = members.require_member(require_business(), member_id)
    try:
        sent = members.resend_invitation(require_business(), current_user, membership)
    except NotPossible as exc:
        return _done(_members_section(), str(exc), ERROR)
    if not sent:
        return _done(_members_section(), "The e-mail could not be sent now; try again later.", ERROR)
    return _done(_members_section(), f"Invitation sent again to {membership.user.email}.")


@bp.route("/tokens", methods=["POST"])
def create_token():
    values = {"name": request.form.get("name", "")}
    membership = current_membership()
    assert membership is not None
    try:
        row, token = tokens.create(require_business(), membership, values)
    except ValidationError as exc:
        if not is_htmx():
            return render_page(
                "people/page.html",
                "people/partials/_content.html",
                status=422,
                **_context(token_values=values, token_errors=exc.errors),
            )
        return _tokens_section(status=422, token_values=values, token_errors=exc.errors)
    # Shown once, in the answer to this request; never stored in clear, never flashed into a cookie.
    if not is_htmx():
        return render_page(
            "people/page.html",
            "people/partials/_content.html",
            status=201,
            **_context(new_token={"name": row.name, "token": token}),
        )
    return toast(
        _tokens_section(new_token={"name": row.name, "token": token}), f"Token “{row.name}” created."
    )


@bp.route("/tokens/<token_id>/revoke", methods=["POST"])
def revoke_token(token_id: str):
    business = require_business()
    token = tokens.require_token(business, token_id)
    try:
        tokens.revoke(business, current_user, token)
    except NotPossible as exc:
        return _done(_tokens_section(), str(exc), ERROR)
    return _done(_tokens_section(), f"Token “{token.name or token.prefix}” revoked: it no longer works.")
