"""Sign-ins that end when their person says so, and a `next` that never leaves the site.

A session (and a remember-me cookie) names `<user id>:<session_version>:<signed in at>`. Flask's
session is a signed cookie the browser keeps: signing out one copy does nothing to another copy,
so every request checks the version against the user's row (`load_user`) and the sign-in time
against `REMEMBER_COOKIE_DAYS` (the cookie's own expiry is only a request to the browser).
Bumping `User.session_version` ends every session and remember-me cookie of that person at once:
sign-out, a password set again, removal from a business, `flask users revoke-tokens` and
`flask users sign-out` all do.
"""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import unquote, urlsplit

from flask import current_app
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from dashboard.models.pos import Membership, User

DAY_SECONDS = 86400
# A sign-in stamped more than this far in the future is refused (clocks of several hosts differ).
CLOCK_SKEW_SECONDS = 300


def end_sessions(user: User) -> None:
    """End every session and remember-me cookie of `user` (committed by the caller)."""
    user.end_sessions()


def parse_session_id(value: str | None) -> tuple[uuid.UUID, int, int] | None:
    """(user id, session version, signed-in-at) or None for anything else, including the
    two-part ids written before sign-in times were recorded (those people sign in once more)."""
    parts = (value or "").split(":")
    if len(parts) != 3:
        return None
    try:
        return uuid.UUID(parts[0]), int(parts[1]), int(parts[2])
    except (ValueError, TypeError):
        return None


def sign_in_is_current(signed_in_at: int) -> bool:
    """A sign-in lasts at most REMEMBER_COOKIE_DAYS, whatever the browser does with the cookie."""
    now = time.time()
    max_age = float(current_app.config.get("REMEMBER_COOKIE_DAYS", 14)) * DAY_SECONDS
    return now - max_age <= signed_in_at <= now + CLOCK_SKEW_SECONDS


# --------------------------------------------------------------------------------------------
# Removal from a business ends the person's sessions (whatever code removes them)


@event.listens_for(Membership.is_active, "set", active_history=True)
def _membership_switched_off(membership: Membership, value, oldvalue, initiator) -> None:
    # active_history: the old value is loaded even when the row was expired by a commit.
    if value is False and oldvalue is not False and inspect(membership).persistent and membership.user:
        membership.user.end_sessions()


@event.listens_for(Session, "before_flush")
def _memberships_deleted(session: Session, flush_context, instances) -> None:
    for obj in list(session.deleted):
        if isinstance(obj, Membership) and obj.user is not None and obj.user not in session.deleted:
            obj.user.end_sessions()


# --------------------------------------------------------------------------------------------
# `next` after sign-in

_EDGE = "".join(chr(c) for c in range(0x21))  # C0 controls and space: browsers strip them at the ends
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")  # browsers drop them anywhere in a URL
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _is_local_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str | None:
    """`target` as the browser will read it, when that is a path on this site; else None.

    Browsers strip C0 controls and spaces at the ends, drop tabs and newlines anywhere, read `\\`
    as `/` and `//host` as another site: `/\\t/evil.example` is `//evil.example`. A target whose
    percent-decoded form would be read so (`/%2F%2Fevil.example`) is refused as well: some proxy or
    framework on the way may decode it.
    """
    if not target or len(target) > 2048:
        return None
    text = _TAB_OR_NEWLINE.sub("", target.strip(_EDGE))
    if _CONTROL.search(text) or not _is_local_path(text):
        return None
    decoded = text
    for _ in range(3):  # double and triple encodings too
        decoded = unquote(decoded)
        stripped = _TAB_OR_NEWLINE.sub("", decoded.strip(_EDGE))
        if _CONTROL.search(stripped) or not _is_local_path(stripped):
            return None
    return text
