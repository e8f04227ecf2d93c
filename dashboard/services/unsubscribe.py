"""One-click unsubscribe (RFC 8058) for export-mail recipients who are not members of the business.

Their export mails carry `List-Unsubscribe: <{BASE_URL}/unsubscribe/<token>>` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`, and a footer link to the same page. The token
signs (schedule id, address) with SECRET_KEY under its own salt; it does not expire (a mail read
months later must still let its reader stop the next ones). A POST to that URL removes the address
from that schedule's recipients, writes an audit entry and tells the owners (at most one notice a
day per business). GET only shows a page with the button: link scanners fetch GETs.
Members are not offered this: they manage schedules in the dashboard and keep failure alerts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import func, select

from dashboard.base_url import external_base_url
from dashboard.extensions import db
from dashboard.models.automation import ExportSchedule
from dashboard.models.pos import Membership, User
from dashboard.services.audit import record_audit

SALT = "export-unsubscribe"
ACTION = "schedule.unsubscribe"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"

REMOVED = "removed"
ALREADY = "already"
INVALID = "invalid"


def _serializer() -> URLSafeSerializer:
    fallbacks = list(current_app.config.get("SECRET_KEY_FALLBACKS") or [])
    return URLSafeSerializer([*fallbacks, current_app.config["SECRET_KEY"]], salt=SALT)


def make_token(schedule_id: uuid.UUID, address: str) -> str:
    return _serializer().dumps({"s": str(schedule_id), "e": address.strip().lower()})


def unsubscribe_url(schedule_id: uuid.UUID, address: str) -> str:
    return f"{external_base_url()}/unsubscribe/{make_token(schedule_id, address)}"


def is_member_address(business_id: uuid.UUID, address: str) -> bool:
    return (
        db.session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.business_id == business_id,
                Membership.is_active.is_(True),
                func.lower(User.email) == address.strip().lower(),
            )
        )
        is not None
    )


def unsubscribe_headers(
    schedule_id: uuid.UUID | None, business_id: uuid.UUID, address: str
) -> dict[str, str]:
    """The RFC 8058 headers for one export mail, or {} (no schedule, or a member)."""
    if schedule_id is None or is_member_address(business_id, address):
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(schedule_id, address)}>",
        "List-Unsubscribe-Post": ONE_CLICK_BODY,
    }


@dataclass
class Unsubscribe:
    outcome: str  # REMOVED, ALREADY or INVALID
    address: str = ""
    schedule: ExportSchedule | None = None


def read_token(token: str) -> Unsubscribe:
    """What a token names, without changing anything (the GET page)."""
    try:
        payload = _serializer().loads(token)
        schedule_id = uuid.UUID(str(payload["s"]))
        address = str(payload["e"])
    except (BadData, KeyError, TypeError, ValueError):
        return Unsubscribe(INVALID)
    schedule = db.session.get(ExportSchedule, schedule_id)
    if schedule is None:
        return Unsubscribe(ALREADY, address)
    listed = any((r or "").strip().lower() == address for r in schedule.recipients or [])
    return Unsubscribe(REMOVED if listed else ALREADY, address, schedule)


def unsubscribe(token: str, *, via: str, ip_address: str | None = None) -> Unsubscribe:
    """Remove the token's address from its schedule; audit it and tell the owners. Idempotent."""
    found = read_token(token)
    if found.outcome != REMOVED or found.schedule is None:
        return found
    schedule = found.schedule
    schedule.recipients = [r for r in schedule.recipients or [] if (r or "").strip().lower() != found.address]
    record_audit(
        schedule.business_id,
        ACTION,
        entity="schedule",
        entity_id=schedule.id,
        details={"email": found.address, "schedule": schedule.name, "via": via},
        ip_address=ip_address,
    )
    db.session.commit()
    from dashboard.services.unsubscribe_notice import tell_owners

    tell_owners(schedule, found.address)
    return found


def personalize_export_mail(
    history_id: uuid.UUID | None, business_id: uuid.UUID, recipient: str, text: str, html: str | None
) -> tuple[dict[str, str], str, str | None]:
    """For one export mail to one recipient: the RFC 8058 headers and the footer link, when the
    recipient is not a member (members manage schedules in the dashboard). Returns
    (extra headers, text, html); unchanged text and html for members and mails of no schedule."""
    from dashboard.models.automation import ExportHistory

    schedule_id = (
        db.session.scalar(select(ExportHistory.schedule_id).where(ExportHistory.id == history_id))
        if history_id is not None
        else None
    )
    headers = unsubscribe_headers(schedule_id, business_id, recipient)
    if not headers:
        return {}, text, html
    url = headers["List-Unsubscribe"][1:-1]
    text = f"{text.rstrip()}\n\nStop receiving this export: {url}\n"
    if html:
        from markupsafe import escape

        link = (
            '<p style="margin:16px 0 0;font-size:12px;color:#6b7280;text-align:center;">'
            f'Don\'t want these exports? <a href="{escape(url)}" style="color:#6b7280;">Unsubscribe</a></p>'
        )
        at = html.lower().rfind("</body>")
        html = html[:at] + link + html[at:] if at >= 0 else html + link
    return headers, text, html
