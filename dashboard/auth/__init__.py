"""Sign-in (Flask-Login sessions) and API tokens (Bearer)."""

from __future__ import annotations

import uuid

from flask import Flask, g, request
from sqlalchemy import select

from dashboard.auth.tokens import membership_for_token
from dashboard.extensions import db, login_manager
from dashboard.models.pos import User


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    raw_id, _, version = (user_id or "").partition(":")
    try:
        parsed = uuid.UUID(raw_id)
        version_number = int(version)
    except (ValueError, TypeError):
        return None
    user = db.session.scalar(select(User).where(User.id == parsed))
    if user is None or user.session_version != version_number:
        return None
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

    from dashboard.auth.routes import bp

    app.register_blueprint(bp)
