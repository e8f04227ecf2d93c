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

from itsdangerous import BadData

from dashboard.delivery.unsubscribe_links import (  # the link side, shared with the mails
    token_serializer,
)
from dashboard.extensions import db
from dashboard.models.automation import ExportSchedule
from dashboard.services.audit import record_audit

ACTION = "schedule.unsubscribe"
REMOVED = "removed"
ALREADY = "already"
INVALID = "invalid"


@dataclass
class Unsubscribe:
    outcome: str  # REMOVED, ALREADY or INVALID
    address: str = ""
    schedule: ExportSchedule | None = None


def read_token(token: str) -> Unsubscribe:
    """What a token names, without changing anything (the GET page)."""
    try:
        payload = token_serializer().loads(token)
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
