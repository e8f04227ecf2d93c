"""API tokens: created for a membership, stored as SHA-256, presented as `Authorization: Bearer`."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models.pos import ApiToken, Membership, User
from dashboard.models.types import utcnow

TOKEN_PREFIX = "ea_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(membership: Membership, expires_at: datetime | None = None) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            membership=membership,
            token_hash=hash_token(token),
            prefix=token[:10],
            expires_at=expires_at,
        )
    )
    db.session.commit()
    return token


def membership_for_token(token: str) -> Membership | None:
    """The active membership a valid token acts as, else None (unknown, revoked, expired)."""
    if not token or len(token) > 200:
        return None
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if api_token is None or api_token.revoked_at is not None:
        return None
    now = utcnow()
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    membership = api_token.membership
    if not membership.is_active or not membership.user.is_active:
        return None
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
