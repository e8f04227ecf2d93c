"""Sign-in (Flask-Login sessions) and API tokens (Bearer)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from flask import Flask, g, request
from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm.attributes import set_committed_value

from dashboard.auth.sessions import parse_session_id, sign_in_is_current
from dashboard.auth.tokens import membership_for_token
from dashboard.core.bearer import bearer_token as parse_bearer
from dashboard.extensions import db, login_manager
from dashboard.models.pos import Business, Membership, User


def bearer_token() -> str | None:
    """This request's API token (`Authorization: Bearer ...`), or None."""
    return parse_bearer(request.headers.get("Authorization"))


@cache
def _user_statement() -> Select:
    # Built once (every signed-in page runs it). The person with their active memberships and
    # each membership's business, in one query: every page needs them (the business switcher,
    # the business the page acts for), and they were a second query.
    return (
        select(User, Membership, Business)
        .outerjoin(Membership, and_(Membership.user_id == User.id, Membership.is_active.is_(True)))
        .outerjoin(Business, Business.id == Membership.business_id)
        .where(User.id == bindparam("user_id"))
        .order_by(Business.name)
    )


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's (or remember-me cookie's) user, on every request: None once the person's
    `session_version` moved on (signed out, password set again, ...), the account was switched
    off, or the sign-in is older than REMEMBER_COOKIE_DAYS."""
    parsed = parse_session_id(user_id)
    if parsed is None:
        return None
    user_uuid, version, signed_in_at = parsed
    if not sign_in_is_current(signed_in_at):
        return None
    rows = db.session.execute(_user_statement(), {"user_id": user_uuid}).all()
    user = rows[0][0] if rows else None
    if user is None or user.session_version != version or not user.is_active:
        return None
    memberships = []
    for _, membership, business in rows:
        if membership is not None:
            # Loaded state, not a change: `membership.business` is then no query of its own.
            set_committed_value(membership, "business", business)
            memberships.append(membership)
    g.user_memberships = (user.id, memberships)  # what tenancy.current_user_memberships reads
    return user


@login_manager.request_loader
def load_user_from_token(req) -> User | None:
    token = bearer_token()
    if token is None:
        return None
    membership = membership_for_token(token)
    if membership is None:
        g.token_invalid = True
        return None
    g.token_membership = membership
    return membership.user


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    # Sessions and remember-me cookies carry the sign-in time (checked by load_user).
    login_manager.id_attribute = "get_session_id"
    # The cookie's expiry follows REMEMBER_COOKIE_DAYS (Flask-Login's default is a year); the server
    # checks the same age itself, since a browser or a thief may ignore Expires.
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=float(app.config.get("REMEMBER_COOKIE_DAYS", 14)))

    from dashboard.auth.routes import bp

    app.register_blueprint(bp)
