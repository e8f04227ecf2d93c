"""Signed tokens (download links, invitations, unsubscribe links): signed with SECRET_KEY and
accepted with any key in SECRET_KEY_FALLBACKS, so links already sent survive a key rotation.
Each kind of token has its own salt, so one kind never passes for another."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from itsdangerous import TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer


def signing_keys() -> list[str]:
    """The keys tokens are checked with; itsdangerous signs with the last one (SECRET_KEY)."""
    fallbacks = list(current_app.config.get("SECRET_KEY_FALLBACKS") or [])
    return [*fallbacks, current_app.config["SECRET_KEY"]]


def timed_serializer(salt: str, issued_at: datetime | None = None) -> URLSafeTimedSerializer:
    """Tokens that carry when they were signed (now, or `issued_at`: tests mint a token as if it
    had been sent days ago)."""
    if issued_at is None:
        return URLSafeTimedSerializer(signing_keys(), salt=salt)
    stamp = int(issued_at.timestamp())

    class IssuedAt(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(signing_keys(), salt=salt, signer=IssuedAt)


def serializer(salt: str) -> URLSafeSerializer:
    """Tokens that never expire (an unsubscribe link read months later must still work)."""
    return URLSafeSerializer(signing_keys(), salt=salt)
