"""Your account (every signed-in person): change the password, sign out everywhere; and the page an
invitation link opens, where the invitee chooses a password and joins."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from dashboard.core.errors import ValidationError
from dashboard.services import account, invitations
from dashboard.tenancy import switch_business
from dashboard.web.common import redirect_with_toast, render_page

bp = Blueprint("account", __name__)


@bp.route("/account", methods=["GET"])
@login_required
def index():
    return render_page("account/page.html", "account/partials/_password.html", errors={})


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    data = {
        "current_password": request.form.get("current_password", ""),
        "new_password": request.form.get("new_password", ""),
        "new_password_confirm": request.form.get("new_password_confirm", ""),
    }
    user = current_user._get_current_object()
    try:
        account.change_password(user, data)
    except ValidationError as exc:
        return render_page(
            "account/page.html", "account/partials/_password.html", status=422, errors=exc.errors
        )
    login_user(user)  # this browser stays signed in; every other session has ended
    message = "Password changed. You were signed out everywhere else."
    return redirect_with_toast(url_for("account.index"), message)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    account.sign_out_everywhere(current_user._get_current_object())
    logout_user()
    return redirect_with_toast(
        url_for("auth.login"), "You were signed out on every device, this one included.", "info"
    )


INVITATION_WORDS = {
    invitations.INVITE_EXPIRED: "This invitation has expired. Ask the business's owner to send it again.",
    invitations.INVITE_USED: "This invitation has already been used or was withdrawn. Sign in, or ask the "
    "business's owner for a new one.",
    invitations.INVITE_INVALID: "This invitation link is not valid. Check that the whole link was copied.",
}


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str):
    invitation = invitations.load(token)
    if invitation.status != invitations.INVITE_OK:
        status = 410 if invitation.status == invitations.INVITE_EXPIRED else 404
        return render_template("account/join.html", problem=INVITATION_WORDS[invitation.status]), status
    membership = invitation.membership
    assert membership is not None
    values = {"name": membership.user.name or ""}
    if request.method == "GET":
        return render_template("account/join.html", membership=membership, values=values, errors={})
    values["name"] = request.form.get("name", "")
    try:
        user = invitations.accept(
            invitation,
            values["name"],
            request.form.get("password", ""),
            request.form.get("password_confirm", ""),
        )
    except ValidationError as exc:
        return render_template(
            "account/join.html", membership=membership, values=values, errors=exc.errors
        ), 422
    if current_user.is_authenticated:
        logout_user()  # someone else was signed in in this browser
    login_user(user)
    switch_business(membership.business_id)
    return redirect_with_toast(url_for("home.index"), f"Welcome to {membership.business.name}.")
