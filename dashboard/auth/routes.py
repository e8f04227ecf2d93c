"""Sign in, sign out, and switch business."""

from __future__ import annotations

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.auth import throttle
from dashboard.auth.forms import LoginForm
from dashboard.auth.sessions import end_sessions, safe_next
from dashboard.errors import error_response
from dashboard.extensions import db
from dashboard.models.pos import User
from dashboard.tenancy import active_memberships, switch_business

bp = Blueprint("auth", __name__)

GENERIC_LOGIN_ERROR = "That e-mail and password do not match an account."
_dummy_hash: str | None = None


def _spend_a_password_check(password: str) -> None:
    """Check the password against a throwaway hash: an unknown address then takes as long to refuse
    as a wrong password (about 0.3 s of scrypt), so timing does not tell which addresses exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash("no account has this password")
    check_password_hash(_dummy_hash, password)


def _safe_next(target: str | None) -> str:
    return safe_next(target) or url_for("home.index")


def _too_many(retry_after: int):
    response = make_response(error_response(429))
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    if request.method == "POST":
        verdict = throttle.check(request.form.get("email") or "")
        if verdict.retry_after is not None:
            return _too_many(verdict.retry_after)
        throttle.slow_down(verdict)
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            _spend_a_password_check(form.password.data)
        if user is None or not user.check_password(form.password.data):
            form.password.errors.append(GENERIC_LOGIN_ERROR)
            status = 401
            throttle.record_failure(email)
        elif not user.is_active or not active_memberships(user):
            form.email.errors.append("This account is disabled or has no business. Ask the business's owner.")
            status = 403
            throttle.record_failure(email)
        else:
            login_user(user, remember=form.remember.data)
            flash(f"Welcome back, {user.display_name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated and g.get("token_membership") is None:
        # Signing out ends every copy of the session and the remember-me cookie, not just this
        # browser's: the cookie is the browser's to keep, so the server stops accepting it.
        user = db.session.get(User, current_user.id)
        if user is not None:
            end_sessions(user)
            db.session.commit()
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/switch-business", methods=["POST"])
@login_required
def switch():
    business_id = request.form.get("business_id", "")
    if switch_business(business_id):
        flash("Switched business.", "success")
        return redirect(url_for("home.index"))
    flash("You are not a member of that business.", "error")
    return redirect(url_for("home.index")), 303
