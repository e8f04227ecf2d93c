"""Signed download links for e-mails: `{BASE_URL}/d/<token>`, usable without signing in.

The token is an itsdangerous URL-safe timed signature (SECRET_KEY, salted for this purpose only) of
the history id and its business id. It stops working after DOWNLOAD_LINK_TTL_DAYS, when the file is
cleaned up, or when the record is gone. A token signed with another salt (a session cookie, a CSRF
token) is not accepted here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer

from dashboard.base_url import external_base_url
from dashboard.core.signing import timed_serializer
from dashboard.extensions import db
from dashboard.models.automation import ExportHistory

SALT = "export-download"

# The reasons load_download_token() gives.
LINK_OK = "ok"
LINK_EXPIRED = "expired"  # signature valid, older than DOWNLOAD_LINK_TTL_DAYS -> 410
LINK_GONE = "gone"  # signature valid, file cleaned up or no longer downloadable -> 410
LINK_INVALID = "invalid"  # tampered, truncated or not ours -> 404
LINK_NOT_FOUND = "not_found"  # signature valid, but no such record (deleted) -> 404


def _serializer(issued_at: datetime | None = None) -> URLSafeTimedSerializer:
    return timed_serializer(SALT, issued_at)


def ttl_seconds() -> int:
    return int(float(current_app.config.get("DOWNLOAD_LINK_TTL_DAYS", 7)) * 86400)


def make_download_token(history: ExportHistory, issued_at: datetime | None = None) -> str:
    return _serializer(issued_at).dumps({"h": str(history.id), "b": str(history.business_id)})


def make_download_url(history: ExportHistory, issued_at: datetime | None = None) -> str:
    base = external_base_url()
    return f"{base}/d/{make_download_token(history, issued_at)}"


def link_expires_at(issued_at: datetime) -> datetime:
    return issued_at + timedelta(seconds=ttl_seconds())


def download_link_expiry(token: str) -> datetime | None:
    """When a (valid) link stops working, for the page to say so; None for a bad token."""
    try:
        _, issued = _serializer().loads(token, return_timestamp=True)
    except BadData:
        return None
    return link_expires_at(issued)


def _history_for(payload) -> ExportHistory | None:
    if not isinstance(payload, dict):
        return None
    try:
        history_id = uuid.UUID(str(payload.get("h")))
        business_id = uuid.UUID(str(payload.get("b")))
    except (ValueError, TypeError, AttributeError):
        return None
    history = db.session.get(ExportHistory, history_id)
    if history is None or history.business_id != business_id:
        return None
    return history


def load_download_token(token: str) -> tuple[ExportHistory | None, str]:
    """(history, reason): the history is returned with LINK_OK, and also with LINK_EXPIRED and
    LINK_GONE (the holder had a genuine link, so the page may name the file); never otherwise."""
    if not token or len(token) > 1024:
        return None, LINK_INVALID
    serializer = _serializer()
    try:
        payload = serializer.loads(token, max_age=ttl_seconds())
    except SignatureExpired as exc:
        # The signature is genuine, only old: its payload (still encoded here) can be trusted.
        try:
            expired_payload = serializer.load_payload(exc.payload)
        except BadData:
            return None, LINK_INVALID
        history = _history_for(expired_payload)
        if history is None:
            return None, LINK_NOT_FOUND
        return history, LINK_EXPIRED
    except BadSignature:
        return None, LINK_INVALID
    history = _history_for(payload)
    if history is None:
        return None, LINK_NOT_FOUND
    if not history.is_downloadable:
        return history, LINK_GONE
    return history, LINK_OK
