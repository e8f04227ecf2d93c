"""The pages' CSRF token (Flask-WTF's), signed once a session and process, not on every page."""

from __future__ import annotations

from flask import current_app, g, session
from flask_wtf.csrf import generate_csrf

from dashboard.core.content_cache import ContentCache

__all__ = ["kept_csrf_token"]

# Signed CSRF tokens by (secret, the session's raw token): see kept_csrf_token.
_SIGNED_TOKENS = ContentCache(4096)


def kept_csrf_token() -> str:
    """The page's CSRF token, as Flask-WTF's generate_csrf gives it, signed once a session and
    process rather than on every page (the signing was a twentieth of a /history page). With
    WTF_CSRF_TIME_LIMIT unset a token's signing time is never checked, so the token signed first
    stays as good as a new one; with a limit set, every page signs its own as before."""
    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    raw = session.get(field)
    if raw is None or field in g or config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    token = _SIGNED_TOKENS.get_or_make((secret, field, raw), generate_csrf)
    setattr(g, field, token)  # what generate_csrf (forms) returns for the rest of the request
    return token
