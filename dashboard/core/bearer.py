"""The one reader of `Authorization: Bearer <token>`: API tokens (dashboard/auth) and the operator
token (dashboard/ops/access.py) both take the token from here."""

from __future__ import annotations


def bearer_token(authorization: str | None) -> str | None:
    """The token of a Bearer header (scheme in any case, spaces around the token ignored); None
    for no header, another scheme or an empty token."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
