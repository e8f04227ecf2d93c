"""The people of a business: list, invite, change a role, remove. Owners only (the callers check).

An invited person who has no account yet gets a user row without a password and an active
membership: they appear in the list as "Invited", cannot sign in, and set their password through the
signed link in the invitation mail (services/invitations.py). A person who already has an account
just joins. Removing a member ends their sessions (dashboard/auth/sessions.py) and revokes the API
tokens of that membership. A business always keeps at least one owner who has joined.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from dashboard.core.errors import ErrorCollector, NotFound, NotPossible, ValidationError
from dashboard.extensions import db
from dashboard.models.pos import ROLE_OWNER, ROLES, ApiToken, Business, Membership, User
from dashboard.models.types import utcnow
from dashboard.services import invitations
from dashboard.services.audit import record_audit
from dashboard.services.validation import MSG_UNKNOWN_FIELD, msg_bad_address, normalize_email

MSG_ROLE = "Choose a role: " + " or ".join(ROLES) + "."
MSG_EMAIL_REQUIRED = "Enter the e-mail address of the person to invite."
MSG_ALREADY_MEMBER = "{email} is already a member of this business."
MSG_NAME_LONG = "The name must be at most 255 characters."
MSG_LAST_OWNER = "A business needs at least one owner: make someone else an owner first."
MSG_ACCOUNT_OFF = "{email} has an account that is switched off; ask an operator to activate it first."

STATUS_ACTIVE = "active"
STATUS_INVITED = "invited"


@dataclass(frozen=True)
class InviteOutcome:
    membership: Membership
    joined: bool  # an existing account joined at once; else an invitation link was mailed
    delivered: bool  # the mail server accepted the mail (or it went to the outbox)


def member_status(membership: Membership) -> str:
    return STATUS_INVITED if not membership.user.password_hash else STATUS_ACTIVE


def member_to_dict(membership: Membership) -> dict[str, Any]:
    user = membership.user
    return {
        "id": str(membership.id),
        "user_id": str(user.id),
        "email": user.email,
        "name": user.name,
        "role": membership.role,
        "status": member_status(membership),
        "joined_at": _iso(membership.created_at),
    }


def _iso(value) -> str | None:
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z") if value else None


def members_query(business: Business):
    """The business's current members (invited ones too), owners first, then by e-mail."""
    return (
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.business_id == business.id, Membership.is_active.is_(True))
        .order_by((Membership.role == ROLE_OWNER).desc(), func.lower(User.email))
    )


def list_members(business: Business) -> list[Membership]:
    return list(db.session.scalars(members_query(business)))


def get_member(business: Business, member_id: object) -> Membership | None:
    """An active membership of this business by id; None for another business's or a bad id."""
    try:
        parsed = member_id if isinstance(member_id, uuid.UUID) else uuid.UUID(str(member_id))
    except (ValueError, TypeError, AttributeError):
        return None
    return db.session.scalar(members_query(business).where(Membership.id == parsed))


def require_member(business: Business, member_id: object) -> Membership:
    """The active membership of this business with this id; NotFound (a 404 on the pages and the
    API alike) for another business's, a missing or a malformed id."""
    membership = get_member(business, member_id)
    if membership is None:
        raise NotFound(f"No member {member_id!r} in this business.")
    return membership


def reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    """A typo'd field is a 400 naming it (contract section 6), never silently ignored."""
    unknown = sorted(str(key)[:100] for key in data if key not in allowed)[:10]
    if unknown:
        raise ValidationError({key: [MSG_UNKNOWN_FIELD] for key in unknown})


def clean_role(errors: ErrorCollector, value: object) -> str | None:
    role = value.strip().lower() if isinstance(value, str) else None
    if role not in ROLES:
        errors.add("role", MSG_ROLE)
        return None
    return role


def _joined_owner_count(business: Business) -> int:
    return (
        db.session.scalar(
            select(func.count(Membership.id))
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.business_id == business.id,
                Membership.is_active.is_(True),
                Membership.role == ROLE_OWNER,
                User.password_hash != "",
                User.is_active_user.is_(True),
            )
        )
        or 0
    )


def _keeps_an_owner(business: Business, membership: Membership) -> bool:
    """Whether the business still has a joined owner once `membership` stops being one."""
    counts = (
        membership.role == ROLE_OWNER
        and member_status(membership) == STATUS_ACTIVE
        and membership.user.is_active
    )
    return _joined_owner_count(business) - (1 if counts else 0) >= 1


def invite(business: Business, actor: User, data: dict[str, Any]) -> InviteOutcome:
    """Invite `email` as `role` (default manager); mails the invitation or the "you joined" note."""
    reject_unknown(data, {"email", "role", "name"})
    errors = ErrorCollector()
    raw_email = data.get("email")
    email = None
    if not isinstance(raw_email, str) or not raw_email.strip():
        errors.add("email", MSG_EMAIL_REQUIRED)
    else:
        email = normalize_email(raw_email)
        if email is None:
            errors.add("email", msg_bad_address(raw_email.strip()[:254]))
    role = clean_role(errors, data.get("role", "manager"))
    name = data.get("name") or ""
    if not isinstance(name, str) or len(name.strip()) > 255 or "\n" in name:
        errors.add("name", MSG_NAME_LONG)
        name = ""
    errors.raise_if_any()
    assert email is not None and role is not None
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is not None and not user.is_active_user:
        raise ValidationError({"email": [MSG_ACCOUNT_OFF.format(email=email)]})
    membership = None
    if user is None:
        user = User(email=email, name=name.strip(), password_hash="")
        db.session.add(user)
    else:
        membership = db.session.scalar(
            select(Membership).where(Membership.user_id == user.id, Membership.business_id == business.id)
        )
        if membership is not None and membership.is_active:
            raise ValidationError({"email": [MSG_ALREADY_MEMBER.format(email=user.email)]})
    if membership is None:
        membership = Membership(user=user, business=business, role=role, is_active=True)
        db.session.add(membership)
    else:  # a former member comes back with the role chosen now
        membership.role = role
        membership.is_active = True
        membership.created_at = utcnow()
    db.session.flush()
    joined = bool(user.password_hash)
    record_audit(
        business.id,
        "members.invite",
        user_id=actor.id,
        entity="membership",
        entity_id=membership.id,
        details={"email": user.email, "role": role, "joined": joined},
    )
    db.session.commit()
    delivered = invitations.send_invitation(membership, actor)
    return InviteOutcome(membership=membership, joined=joined, delivered=delivered)


def resend_invitation(business: Business, actor: User, membership: Membership) -> bool:
    if member_status(membership) != STATUS_INVITED:
        raise NotPossible(f"{membership.user.email} has already joined.")
    record_audit(
        business.id,
        "members.invite_resent",
        user_id=actor.id,
        entity="membership",
        entity_id=membership.id,
        details={"email": membership.user.email},
        commit=True,
    )
    return invitations.send_invitation(membership, actor)


def change_role(business: Business, actor: User, membership: Membership, data: dict[str, Any]) -> Membership:
    """Set a member's role (`membership` from get_member); refused when no owner would be left."""
    reject_unknown(data, {"role"})
    errors = ErrorCollector()
    role = clean_role(errors, data.get("role"))
    errors.raise_if_any()
    if role == membership.role:
        return membership
    if role != ROLE_OWNER and not _keeps_an_owner(business, membership):
        raise NotPossible(MSG_LAST_OWNER)
    old = membership.role
    membership.role = role
    record_audit(
        business.id,
        "members.role",
        user_id=actor.id,
        entity="membership",
        entity_id=membership.id,
        details={"email": membership.user.email, "from": old, "to": role},
    )
    db.session.commit()
    return membership


def remove(business: Business, actor: User, membership: Membership) -> Membership:
    """Remove a member: their sessions end and this membership's API tokens stop working."""
    if not _keeps_an_owner(business, membership):
        raise NotPossible(MSG_LAST_OWNER)
    membership.is_active = False  # ends the person's sessions (dashboard/auth/sessions.py)
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.membership_id == membership.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    record_audit(
        business.id,
        "members.remove",
        user_id=actor.id,
        entity="membership",
        entity_id=membership.id,
        details={"email": membership.user.email, "role": membership.role},
    )
    db.session.commit()
    return membership
