"""The unsubscribe side of an export mail to someone outside the business (RFC 8058): the signed
token, the link, the List-Unsubscribe headers and the footer line. What a click does (remove the
address, audit it, tell the owners) is dashboard/services/unsubscribe.py.
"""

from __future__ import annotations

import uuid

from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from dashboard.base_url import external_base_url
from dashboard.core.signing import serializer
from dashboard.extensions import db
from dashboard.models.pos import Membership, User

SALT = "export-unsubscribe"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def token_serializer() -> URLSafeSerializer:
    return serializer(SALT)


def make_token(schedule_id: uuid.UUID, address: str) -> str:
    return token_serializer().dumps({"s": str(schedule_id), "e": address.strip().lower()})


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
