"""The current business, role checks, and the one place where tenant scoping happens.

Every lookup of tenant data goes through `scoped()`, `get_scoped()` or `get_scoped_or_404()`: an
object of another business is not found, exactly like a missing one, without any view remembering
to check (`NotFound` from dashboard/core/errors.py, which pages and the API both answer with 404).
Roles are the names in `ROLES`; `role_required` refuses any other name when the module using it
is imported, so a misspelt role cannot quietly let everybody in.
"""

from __future__ import annotations

import uuid
from functools import wraps

from flask import abort, g, session
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from dashboard.core.errors import NotFound
from dashboard.extensions import db
from dashboard.models.pos import ROLE_OWNER, ROLES, Business, Membership

SESSION_BUSINESS_KEY = "business_id"


def active_memberships(user) -> list[Membership]:
    """The user's active memberships, each with its business, in one query (every signed-in page
    asks for them: the business was one more query each)."""
    return list(
        db.session.scalars(
            select(Membership)
            .join(Business)
            .options(contains_eager(Membership.business))
            .where(Membership.user_id == user.id, Membership.is_active.is_(True))
            .order_by(Business.name)
        )
    )


def current_user_memberships() -> list[Membership]:
    """The signed-in person's active memberships, read once a request (the page's business
    switcher and the choice of business both need them)."""
    if not current_user.is_authenticated:
        return []
    cached = g.get("user_memberships")
    if cached is None or cached[0] != current_user.id:  # (signing in mid-request changes who)
        cached = g.user_memberships = (current_user.id, active_memberships(current_user))
    return cached[1]


def current_membership() -> Membership | None:
    """The membership this request acts as: the API token's, else the session's chosen business."""
    if "membership" in g:
        return g.membership
    membership = None
    if getattr(g, "token_membership", None) is not None:
        membership = g.token_membership
    elif current_user.is_authenticated:
        memberships = current_user_memberships()
        wanted = session.get(SESSION_BUSINESS_KEY)
        membership = next((m for m in memberships if str(m.business_id) == wanted), None)
        if membership is None and memberships:
            membership = memberships[0]
    g.membership = membership
    return membership


def current_business() -> Business | None:
    membership = current_membership()
    return membership.business if membership else None


def require_business() -> Business:
    business = current_business()
    if business is None:
        abort(403, "You are not a member of any business.")
    return business


def is_owner() -> bool:
    membership = current_membership()
    return bool(membership and membership.role == ROLE_OWNER)


def role_of(business_id: uuid.UUID, user_id: uuid.UUID | None) -> str | None:
    """The role `user_id` holds in the business now (None: not an active member, or nobody)."""
    if user_id is None:
        return None
    return db.session.scalar(
        select(Membership.role).where(
            Membership.business_id == business_id,
            Membership.user_id == user_id,
            Membership.is_active.is_(True),
        )
    )


def is_member_of(business_id: uuid.UUID, user_id: uuid.UUID | None) -> bool:
    return role_of(business_id, user_id) is not None


def is_owner_of(business_id: uuid.UUID, user_id: uuid.UUID | None) -> bool:
    """Whether `user_id` is, now, an active owner of the business (None: nobody is)."""
    return role_of(business_id, user_id) == ROLE_OWNER


def role_required(role: str):
    """Decorator: 403 unless the current membership has `role` (owners pass every check).
    A name not in ROLES is a ValueError at once, when the view is defined."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}: roles are {', '.join(ROLES)}.")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            membership = current_membership()
            if membership is None:
                abort(403)
            if role == ROLE_OWNER and membership.role != ROLE_OWNER:
                abort(403, "Only the business's owners can open this.")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def parse_uuid(value) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def scoped(model, business_id=None):
    """`select(model)` limited to one business (the current one unless given)."""
    if business_id is None:
        business_id = require_business().id
    return select(model).where(model.business_id == business_id)


def get_scoped(model, object_id, business_id=None):
    """The object of this business with this id, or None (malformed ids included)."""
    parsed = parse_uuid(object_id)
    if parsed is None:
        return None
    return db.session.scalar(scoped(model, business_id).where(model.id == parsed))


def get_scoped_or_404(model, object_id, business_id=None):
    """The object of this business with this id; NotFound (a 404 on every face) otherwise."""
    obj = get_scoped(model, object_id, business_id)
    if obj is None:
        raise NotFound(f"No {model.__name__} {object_id!r} in this business.")
    return obj


def switch_business(business_id) -> bool:
    """Make `business_id` the session's business if the signed-in user is an active member."""
    for membership in active_memberships(current_user):
        if str(membership.business_id) == str(business_id):
            session[SESSION_BUSINESS_KEY] = str(membership.business_id)
            g.pop("membership", None)
            return True
    return False
