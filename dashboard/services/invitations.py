"""Invitation mails and their signed links: `{BASE_URL}/join/<token>` sets the invitee's password.

The token is an itsdangerous timed signature (SECRET_KEY and its fallbacks, salted for this purpose
only) of the membership, the user and the user's session version. It works once: it is refused
after INVITATION_DAYS, once the person has set a password, when the membership was removed, or when
the user's sessions were ended since (a re-sent invitation carries the current version).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, render_template
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from dashboard.base_url import external_base_url
from dashboard.core.errors import ErrorCollector
from dashboard.core.signing import timed_serializer
from dashboard.delivery.mailer import OutgoingMessage, format_address, send_message, sender_address
from dashboard.extensions import db
from dashboard.models.pos import Membership, User
from dashboard.services.audit import record_audit

log = logging.getLogger(__name__)

SALT = "member-invitation"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
MSG_PASSWORD_SHORT = f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
MSG_PASSWORD_LONG = f"The password must be at most {MAX_PASSWORD_LENGTH} characters."
MSG_PASSWORDS_DIFFER = "The two passwords differ: type the same password twice."

INVITE_OK = "ok"
INVITE_EXPIRED = "expired"
INVITE_USED = "used"  # the person already set a password, or the invitation was withdrawn
INVITE_INVALID = "invalid"


@dataclass(frozen=True)
class Invitation:
    status: str
    membership: Membership | None = None


def invitation_days() -> float:
    return float(current_app.config.get("INVITATION_DAYS", 7))


def _serializer(issued_at: datetime | None = None) -> URLSafeTimedSerializer:
    return timed_serializer(SALT, issued_at)


def make_token(membership: Membership, issued_at: datetime | None = None) -> str:
    user = membership.user
    return _serializer(issued_at).dumps(
        {"m": str(membership.id), "u": str(user.id), "v": user.session_version or 1}
    )


def join_url(membership: Membership) -> str:
    return f"{external_base_url()}/join/{make_token(membership)}"


def load(token: str) -> Invitation:
    """What an invitation link stands for, or why it no longer works."""
    if not token or len(token) > 500:
        return Invitation(INVITE_INVALID)
    try:
        data = _serializer().loads(token, max_age=int(invitation_days() * 86400))
    except SignatureExpired:
        return Invitation(INVITE_EXPIRED)
    except BadData:
        return Invitation(INVITE_INVALID)
    try:
        membership_id, user_id, version = uuid.UUID(data["m"]), uuid.UUID(data["u"]), int(data["v"])
    except (KeyError, TypeError, ValueError):
        return Invitation(INVITE_INVALID)
    membership = db.session.scalar(
        select(Membership).where(Membership.id == membership_id, Membership.user_id == user_id)
    )
    if membership is None:
        return Invitation(INVITE_INVALID)
    user = membership.user
    if not membership.is_active or user.password_hash or (user.session_version or 1) != version:
        return Invitation(INVITE_USED)
    return Invitation(INVITE_OK, membership)


def password_errors(
    password: object, confirm: object, errors: ErrorCollector, field: str = "password"
) -> None:
    """The one password rule (sign-up through an invitation and a password change share it)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        errors.add(field, MSG_PASSWORD_SHORT)
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add(field, MSG_PASSWORD_LONG)
    elif confirm is not None and confirm != password:
        errors.add("password_confirm", MSG_PASSWORDS_DIFFER)


def accept(invitation: Invitation, name: str, password: str, confirm: str | None) -> User:
    """Set the invitee's name and password: they have joined. Raises ValidationError."""
    assert invitation.membership is not None
    errors = ErrorCollector()
    password_errors(password, confirm, errors)
    name = (name or "").strip()
    if len(name) > 255 or "\n" in name:
        errors.add("name", "The name must be at most 255 characters, on one line.")
    errors.raise_if_any()
    membership = invitation.membership
    user = membership.user
    if name:
        user.name = name
    user.set_password(password)
    user.end_sessions()  # the link stops working (its version is now old)
    record_audit(
        membership.business_id,
        "members.join",
        user_id=user.id,
        entity="membership",
        entity_id=membership.id,
        details={"email": user.email, "role": membership.role},
    )
    db.session.commit()
    return user


def send_invitation(membership: Membership, inviter: User) -> bool:
    """Mail the invitation (a link to set a password) or, to an existing account, the news that it
    joined. True when the mail server accepted it (or it was written to the outbox)."""
    user = membership.user
    business = membership.business
    joined = bool(user.password_hash)
    context = {
        "business_name": business.name,
        "inviter_name": inviter.display_name,
        "role": membership.role,
        "joined": joined,
        "link": f"{external_base_url()}/login" if joined else join_url(membership),
        "days": int(invitation_days()),
        "email": user.email,
    }
    subject = (
        f"You now have access to {business.name}"
        if joined
        else f"{inviter.display_name} invited you to {business.name}"
    )
    message = OutgoingMessage(
        subject=subject,
        recipients=[user.email],
        sender=format_address("Export Automation", sender_address()),
        body=render_template("emails/invitation.txt", **context),
        html=render_template("emails/invitation.html", **context),
    )
    try:
        result = send_message(message)
    except Exception:  # the membership stands; the owner can send the invitation again
        log.exception("invitation mail to %s could not be sent", user.email)
        return False
    return result.any_accepted
