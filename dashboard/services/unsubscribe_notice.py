"""The owners' notice that an outside recipient unsubscribed: at most one a day per business
(later ones that day are in the audit log, which the notice points to)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models.automation import ExportSchedule, MailMessage
from dashboard.models.types import utcnow

log = logging.getLogger(__name__)
KIND_UNSUBSCRIBE = "unsubscribe"
WINDOW = timedelta(hours=24)


def _sent_since(business_id, since) -> bool:
    return (
        db.session.scalar(
            select(MailMessage.id)
            .where(
                MailMessage.business_id == business_id,
                MailMessage.kind == KIND_UNSUBSCRIBE,
                MailMessage.created_at > since,
            )
            .limit(1)
        )
        is not None
    )


def tell_owners(schedule: ExportSchedule, address: str) -> int:
    """Queue and send the notice to the business's active owners; how many were queued. Never
    raises: the address is already removed and audited, which is what the recipient asked for."""
    from dashboard.delivery import outbox
    from dashboard.delivery.email_sending import send_rows
    from dashboard.delivery.mailer import clean_header
    from dashboard.delivery.quota import owner_addresses
    from dashboard.delivery.render import MailContent, base_context, from_name, render_template
    from dashboard.services.notifications import get_settings

    try:
        now = utcnow()
        if _sent_since(schedule.business_id, now - WINDOW):
            return 0
        owners = sorted(owner_addresses(schedule.business_id))
        if not owners:
            return 0
        business = schedule.business
        settings = get_settings(business)
        context = {**base_context(business, settings), "address": address, "schedule_name": schedule.name}
        text, html = render_template("unsubscribed", **context)
        content = MailContent(
            subject=clean_header(f"{address} unsubscribed from {schedule.name}", 255),
            text=text,
            html=html,
            from_name=from_name(business, settings),
            reply_to=settings.reply_to_email or "",
        )
        bucket = int(now.timestamp() // WINDOW.total_seconds())
        key = (KIND_UNSUBSCRIBE, schedule.business_id, bucket)
        queued = outbox.enqueue(
            business_id=schedule.business_id,
            history_id=None,
            kind=KIND_UNSUBSCRIBE,
            recipients=owners,
            content=content,
            key_parts=key,
            now=now,
        )
        db.session.commit()
        if queued:
            prefix = ":".join(str(p) for p in key) + ":"
            ids = list(
                db.session.scalars(
                    select(MailMessage.id).where(MailMessage.dedupe_key.startswith(prefix, autoescape=True))
                )
            )
            send_rows(ids, now)
        return queued
    except Exception:
        log.exception("Could not tell the owners that %s unsubscribed", address)
        db.session.rollback()
        return 0
