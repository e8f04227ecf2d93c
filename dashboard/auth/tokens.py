"""API tokens: created for a membership, stored as SHA-256, presented as `Authorization: Bearer`."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, select, update
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


@cache
def _token_statement() -> Select:
    # Built once: every API request runs it, and building it cost as much as running it.
    # One query for the token's state, its membership, user and business: the three lazy loads
    # that once followed it were most of an API list's database round trips.
    return (
        select(ApiToken.revoked_at, ApiToken.expires_at, Membership, User, Business)
        .join(Membership, Membership.id == ApiToken.membership_id)
        .join(User, User.id == Membership.user_id)
        .join(Business, Business.id == Membership.business_id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


def membership_for_token(token: str) -> Membership | None:
    """The active membership a valid token acts as, else None (unknown, revoked, expired)."""
    if not token or len(token) > 200:
        return None
    row = db.session.execute(_token_statement(), {"token_hash": hash_token(token)}).first()
    if row is None:
        return None
    revoked_at, expires_at, membership, user, business = row
    if revoked_at is not None:
        return None
    if expires_at is not None and expires_at <= utcnow():
        return None
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
