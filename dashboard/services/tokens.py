"""The business's API tokens, as owners manage them: list, create (the token shown once), revoke.

A token acts as the membership it was created for (contract section 2); owners create tokens for
their own membership and may revoke anyone's in the business. Only the SHA-256 is stored
(dashboard/auth/tokens.py), so a token is shown once, when created, and never again.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from dashboard.auth.tokens import new_token
from dashboard.core.errors import ErrorCollector, NotFound, NotPossible
from dashboard.extensions import db
from dashboard.models.pos import ApiToken, Business, Membership, User
from dashboard.models.types import utcnow
from dashboard.services.audit import record_audit
from dashboard.services.members import reject_unknown

MAX_NAME_LENGTH = 100
MSG_NAME_REQUIRED = "Name the token after what will use it, for example Accounting sync."
MSG_NAME_LONG = f"The name must be at most {MAX_NAME_LENGTH} characters, on one line."
MSG_ALREADY_REVOKED = "This token is already revoked."


def _iso(value) -> str | None:
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z") if value else None


def token_status(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= utcnow():
        return "expired"
    return "active"


def token_to_dict(token: ApiToken) -> dict[str, Any]:
    user = token.membership.user
    return {
        "id": str(token.id),
        "name": token.name,
        "prefix": token.prefix,
        "user_email": user.email,
        "user_name": user.display_name,
        "role": token.membership.role,
        "status": token_status(token),
        "created_at": _iso(token.created_at),
        "expires_at": _iso(token.expires_at),
        "revoked_at": _iso(token.revoked_at),
    }


def tokens_query(business: Business, include_revoked: bool = False):
    stmt = (
        select(ApiToken)
        .join(Membership, Membership.id == ApiToken.membership_id)
        .where(Membership.business_id == business.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return stmt


def list_tokens(business: Business, include_revoked: bool = False) -> list[ApiToken]:
    return list(db.session.scalars(tokens_query(business, include_revoked)))


def get_token(business: Business, token_id: object) -> ApiToken | None:
    """This business's token by id; None for another business's, a missing or a malformed id."""
    try:
        parsed = token_id if isinstance(token_id, uuid.UUID) else uuid.UUID(str(token_id))
    except (ValueError, TypeError, AttributeError):
        return None
    return db.session.scalar(tokens_query(business, include_revoked=True).where(ApiToken.id == parsed))


def require_token(business: Business, token_id: object) -> ApiToken:
    """This business's token by id; NotFound (a 404 on the pages and the API alike) otherwise."""
    token = get_token(business, token_id)
    if token is None:
        raise NotFound(f"No API token {token_id!r} in this business.")
    return token


def create(business: Business, membership: Membership, data: dict[str, Any]) -> tuple[ApiToken, str]:
    """A new token for `membership` (the owner asking); returns the row and the token itself."""
    reject_unknown(data, {"name"})
    errors = ErrorCollector()
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.add("name", MSG_NAME_REQUIRED)
    elif len(name.strip()) > MAX_NAME_LENGTH or "\n" in name or "\r" in name:
        errors.add("name", MSG_NAME_LONG)
    errors.raise_if_any()
    row, token = new_token(membership, name=name.strip())
    db.session.flush()
    record_audit(
        business.id,
        "tokens.create",
        user_id=membership.user_id,
        entity="api_token",
        entity_id=row.id,
        details={"name": row.name, "prefix": row.prefix},
    )
    db.session.commit()
    return row, token


def revoke(business: Business, actor: User, token: ApiToken) -> ApiToken:
    if token.revoked_at is not None:
        raise NotPossible(MSG_ALREADY_REVOKED)
    token.revoked_at = utcnow()
    record_audit(
        business.id,
        "tokens.revoke",
        user_id=actor.id,
        entity="api_token",
        entity_id=token.id,
        details={"name": token.name, "prefix": token.prefix, "owner": token.membership.user.email},
    )
    db.session.commit()
    return token
