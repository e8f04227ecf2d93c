"""Rate limits on the dashboard's buttons that start a run or send mail, and the answer to a full
export queue (CONTRACT section 6).

`run_limited` puts two Flask-Limiter limits on a route, like the API's (Redis storage in
production, so they hold across workers and hosts): ``DASHBOARD_RUN_RATE_LIMIT`` per signed-in
user and ``DASHBOARD_RUN_RATE_LIMIT_PER_BUSINESS`` per business, whoever of its people clicks.
Both buckets are shared by every such route (run now, send a test, rerun, export now): ten clicks
spread over four buttons count as ten. Over a limit the page gets a 429 with Retry-After and a
sentence saying what happened (the error page; htmx shows it as a toast), never a 500.

The keys are read from the signed session, not from the request's cached user: Flask-Limiter
checks before the app's other before_request hooks have run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request, session
from sqlalchemy import select

from dashboard.automation.fairness import QueueFull
from dashboard.extensions import db, limiter
from dashboard.models.pos import Business, Membership
from dashboard.tenancy import SESSION_BUSINESS_KEY

__all__ = ["RATE_LIMITED_MESSAGE", "init_app", "run_limited"]

RATE_LIMITED_MESSAGE = (
    "You started too many exports or test mails in a short time. Wait a minute and try again."
)


def _address_key(kind: str) -> str:
    return f"dash-run-{kind}-ip:{request.remote_addr or 'unknown'}"


def _session_user_id() -> uuid.UUID | None:
    raw = session.get("_user_id")
    if not raw:
        return None
    try:
        return uuid.UUID(str(raw).partition(":")[0])
    except ValueError:
        return None


def user_key() -> str:
    user_id = _session_user_id()
    return f"dash-run-user:{user_id}" if user_id else _address_key("user")


def business_key() -> str:
    """The business the signed-in person acts for (the session's choice, else their first, as
    `tenancy.current_membership` decides)."""
    user_id = _session_user_id()
    if user_id is None:
        return _address_key("business")
    business_ids = db.session.scalars(
        select(Membership.business_id)
        .join(Business, Business.id == Membership.business_id)
        .where(Membership.user_id == user_id, Membership.is_active.is_(True))
        .order_by(Business.name)
    ).all()
    wanted = session.get(SESSION_BUSINESS_KEY)
    chosen = next((b for b in business_ids if str(b) == wanted), business_ids[0] if business_ids else None)
    return f"dash-run-business:{chosen}" if chosen else _address_key("business")


def _per_user() -> str:
    return current_app.config.get("DASHBOARD_RUN_RATE_LIMIT", "10 per minute")


def _per_business() -> str:
    return current_app.config.get("DASHBOARD_RUN_RATE_LIMIT_PER_BUSINESS", "30 per minute")


def run_limited(view: Callable[..., Any]) -> Callable[..., Any]:
    """Both limits on a route that starts a run or sends mail (POST only: a GET shows a form)."""
    view = limiter.shared_limit(
        _per_business,
        scope="dashboard-run-business",
        key_func=business_key,
        methods=["POST"],
        error_message=RATE_LIMITED_MESSAGE,
    )(view)
    return limiter.shared_limit(
        _per_user,
        scope="dashboard-run-user",
        key_func=user_key,
        methods=["POST"],
        error_message=RATE_LIMITED_MESSAGE,
    )(view)


def _queue_full(error: QueueFull):
    """429 with Retry-After: JSON for the API, the error page (an htmx toast) for the pages."""
    from flask import make_response

    from dashboard.errors import error_response

    response = make_response(error_response(429, str(error)))
    response.headers["Retry-After"] = str(error.retry_after)
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(QueueFull, _queue_full)
