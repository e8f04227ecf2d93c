"""API tokens: created for a membership, stored as SHA-256, presented as `Authorization: Bearer`."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from dashboard.extensions import db
from dashboard.models.pos import ApiToken, Business, Membership, User
from dashboard.models.types import utcnow

TOKEN_PREFIX = "ea_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(
    membership: Membership, expires_at: datetime | None = None, name: str = ""
) -> tuple[ApiToken, str]:
    """A token row added to the session (not committed) and the token itself, shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        membership=membership,
        token_hash=hash_token(token),
        prefix=token[:10],
        expires_at=expires_at,
        name=name,
    )
    db.session.add(row)
    return row, token


def create_token(membership: Membership, expires_at: datetime | None = None) -> str:
    _, token = new_token(membership, expires_at)
    db.session.commit()
    return token


def membership_for_token(token: str) -> Membership | None:
    """The active membership a valid token acts as, else None (unknown, revoked, expired)."""
    if not token or len(token) > 200:
        return None
    # One query for the token, its membership, user and business: every API request starts here,
    # and the three lazy loads that followed it were most of an API list's database round trips.
    # (The membership's user and business then come from the session's identity map.)
    row = db.session.execute(
        select(ApiToken, Membership, User, Business)
        .join(Membership, Membership.id == ApiToken.membership_id)
        .join(User, User.id == Membership.user_id)
        .join(Business, Business.id == Membership.business_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    api_token = row[0]
    if api_token.revoked_at is not None:
        return None
    now = utcnow()
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    membership, user, business = row[1], row[2], row[3]
    if not membership.is_active or not user.is_active:
        return None
    # Set while the row still holds them: the identity map keeps objects only as long as
    # something refers to them, and a later `membership.business` would be a query again.
    # (set_committed_value: loaded state, not a change to flush.)
    set_committed_value(membership, "user", user)
    set_committed_value(membership, "business", business)
    return membership


def revoke_tokens(user: User) -> int:
    membership_ids = select(Membership.id).where(Membership.user_id == user.id)
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.membership_id.in_(membership_ids), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.commit()
    return result.rowcount or 0
