"""Sending e-mail rows of the outbox over one SMTP connection a pass: building each message (same
Message-ID at every attempt), refusing what must never be handed over, holding what is over the
business's daily limit (quota.py), and mirroring the export mail's rows onto the run."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import Counter
from contextlib import closing
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_mail import BadHeaderError, Message
from sqlalchemy import select, update

from dashboard.core.addresses import domain_allowed, needs_smtputf8
from dashboard.core.display import datetime_display
from dashboard.delivery import mailer, outbox
from dashboard.delivery.display import local_time
from dashboard.delivery.outbox import KIND_EXPORT, KIND_QUOTA
from dashboard.delivery.policy import backoff
from dashboard.delivery.quota import Quota, held_count, notice_key, notice_sent_since, owner_addresses
from dashboard.delivery.recipients import clean_list
from dashboard.delivery.render import render_quota_notice
from dashboard.delivery.unsubscribe_links import personalize_export_mail
from dashboard.extensions import db
from dashboard.logging_setup import log_context
from dashboard.models.automation import (
    MAIL_PENDING,
    MAIL_SENT,
    STATUS_COMPLETED,
    STATUS_EMAILED,
    ExportHistory,
    MailMessage,
    allowed_domains,
    get_settings,
)
from dashboard.models.pos import Business
from dashboard.models.types import utcnow
from dashboard.ops import metrics
from dashboard.storage import ExportFileNotFound, UnsafePathError, get_storage

log = logging.getLogger(__name__)


class _FileGone(Exception):
    pass


def _read_export_file(path: str) -> bytes:
    try:
        stream = get_storage().get_export_file(path)
    except (ExportFileNotFound, UnsafePathError) as exc:
        raise _FileGone(str(exc)) from exc
    with closing(stream):
        return stream.read()


def build_message(row: MailMessage, file_cache: dict | None = None) -> Message:
    """The Flask-Mail message for one outbox row (same Message-ID at every attempt)."""
    payload = row.payload or {}
    sender = mailer.format_address(payload.get("from_name"), mailer.sender_address())
    reply_to = mailer.clean_header(payload.get("reply_to"), 254) or None
    text, html = payload.get("text") or "", payload.get("html") or None
    unsubscribe: dict[str, str] = {}
    if row.kind == KIND_EXPORT:
        # Outside recipients: one-click unsubscribe headers (RFC 8058) and a footer link (issue 19).
        unsubscribe, text, html = personalize_export_mail(
            row.history_id, row.business_id, row.recipient, text, html
        )
    message = mailer.OutgoingMessage(
        subject=mailer.clean_header(payload.get("subject"), 255),
        recipients=[mailer.clean_header(row.recipient, 254)],
        body=text,
        html=html,
        sender=sender,
        reply_to=reply_to,
        extra_headers={
            # RFC 3834: automatic mail; keeps out-of-office replies from answering it.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            **unsubscribe,
        },
    )
    message.msgId = row.message_id
    # "attachment" (one file): rows queued before runs had several files.
    attachments = payload.get("attachments") or ([payload["attachment"]] if payload.get("attachment") else [])
    cache = file_cache if file_cache is not None else {}
    paths = [a["path"] for a in attachments]
    if set(cache) - set(paths):
        cache.clear()  # hold the files of one message at a time
    for attachment in attachments:
        path = attachment["path"]
        if path not in cache:
            cache[path] = _read_export_file(path)
        name = mailer.clean_header(attachment.get("name"), 200).replace('"', "") or "export"
        message.attach(filename=name, content_type=attachment.get("content_type"), data=cache[path])
    return message


def _refusal(row: MailMessage, domains: dict[uuid.UUID, list[str]]) -> str:
    """Why this row must not be handed to the mail server at all (then it fails for good, never
    retried), or "". Checked at every send, whatever was checked when the recipients were saved."""
    if needs_smtputf8(row.recipient):
        return (
            "Not sent: the address has letters before the @ that are not ASCII, so it needs SMTPUTF8, "
            "which this service does not use. Replace it with an ASCII address; it is not retried."
        )
    if row.kind == KIND_QUOTA:
        return ""
    if row.business_id not in domains:
        domains[row.business_id] = allowed_domains(row.business_id)
    allowed = domains[row.business_id]
    if not domain_allowed(row.recipient, allowed):
        return (
            f"Not sent: {row.recipient} is outside the domains this business allows "
            f"({', '.join(allowed)}). Change the recipients, or the allowed domains in the notification "
            "settings."
        )
    return ""


def _hold_reason(business_id: uuid.UUID, limit: int, until: datetime) -> str:
    business = db.session.get(Business, business_id)
    when = local_time(until, business) if business is not None else datetime_display(until, "UTC")
    return (
        f"Held: this business reached its daily limit of {limit} e-mails (a rolling 24 hours); "
        f"it will be sent from {when}."
    )


def _report_held(row: MailMessage, until: datetime) -> None:
    """Held is not lost (it is sent when the window allows): counted, and logged at INFO."""
    metrics.record_mail(row.kind, "held")
    with log_context(history_id=str(row.history_id) if row.history_id else None, mail_id=str(row.id)):
        log.info("mail %s to %s held until %s (daily limit)", row.kind, row.recipient, until.isoformat())


def _hold(row: MailMessage, quota: Quota, until: datetime, stats: Counter, touched: set[uuid.UUID]) -> None:
    """Hold a mail over its business's daily limit until `until` (counted and reported once)."""
    if quota.hold(row, until, _hold_reason(row.business_id, quota.limit, until)):
        stats["held"] += 1
        _report_held(row, until)
        if row.history_id:
            touched.add(row.history_id)


def _attempt(row: MailMessage, transport, file_cache: dict, rendered: dict):
    """Build and hand over one message: (the recipient's outcome, the send's result)."""
    try:
        message = build_message(row, file_cache)
        result = transport.send(message, _render_bytes(message, row, rendered))
        outcome = result.recipients.get(str(message.recipients[0])) or next(iter(result.recipients.values()))
        return outcome, result
    except _FileGone:
        error = "The export file is no longer available."
        return mailer.RecipientResult(row.recipient, mailer.PERMANENT, None, error), mailer.SendResult()
    except BadHeaderError as exc:
        error = f"Bad header: {exc}"
        return mailer.RecipientResult(row.recipient, mailer.PERMANENT, None, error), mailer.SendResult()
    except Exception as exc:  # storage hiccup, template data problem: try again later
        log.exception("Could not build or send mail %s", row.id)
        error = mailer.clean_header(f"{type(exc).__name__}: {exc}", 500)
        return mailer.RecipientResult(row.recipient, mailer.TRANSIENT, None, error), mailer.SendResult()


def send_rows(row_ids: list[uuid.UUID], now: datetime | None = None) -> Counter:
    """Attempt each due e-mail row once, over one connection; stop early when the server is
    unreachable."""
    now = now or utcnow()
    stats: Counter = Counter()
    touched: set[uuid.UUID] = set()
    file_cache: dict = {}
    rendered: dict = {}  # the last rendered message: (content key, recipient, message id, bytes)
    quota = Quota()
    domains: dict[uuid.UUID, list[str]] = {}
    with mailer.open_transport() as transport:
        for index, row_id in enumerate(row_ids):
            row = outbox.load_due(row_id, now)
            if row is None:
                continue
            refusal = _refusal(row, domains)
            if refusal:
                if outbox.refuse(row, refusal):
                    stats["failed"] += 1
                    outcome = mailer.RecipientResult(row.recipient, mailer.PERMANENT, None, refusal)
                    outbox.report_outcome(row, row.attempts or 0, "refused", outcome)
                    if row.history_id:
                        touched.add(row.history_id)
                continue
            counts = quota.counts(row)
            if counts and row.business_id in quota.full_until:
                _hold(row, quota, quota.full_until[row.business_id], stats, touched)
                continue
            seen = (row.id, row.status, row.attempts or 0)  # a commit reloads the row: keep what was read
            attempt = outbox.claim(row, now, quota if counts else None)
            if attempt is None:
                if counts and outbox.unchanged(*seen):  # no free slot in the window: hold it
                    until = quota.free_at(row.business_id, now)
                    quota.full_until[row.business_id] = until
                    _hold(row, quota, until, stats, touched)
                    continue
                stats["skipped"] += 1  # another process took it
                continue
            if row.history_id:
                touched.add(row.history_id)
            outcome, result = _attempt(row, transport, file_cache, rendered)
            recorded = outbox.record(row, attempt, outcome, now)
            stats[recorded] += 1
            outbox.report_outcome(row, attempt, recorded, outcome)
            if result.connection_error and outcome.outcome == mailer.TRANSIENT:
                rest = [r for r in row_ids[index + 1 :]]
                stats["deferred"] += outbox.defer(rest, outcome.error, now + backoff(attempt))
                for other in db.session.scalars(
                    select(MailMessage.history_id).where(
                        MailMessage.id.in_(rest), MailMessage.history_id.is_not(None)
                    )
                ):
                    touched.add(other)
                break
    for history_id in touched:
        sync_history_delivery(history_id)
    for business_id in quota.held:
        stats.update(_tell_owners_mail_is_held(business_id, quota, now))
    return stats


def _tell_owners_mail_is_held(business_id: uuid.UUID, quota: Quota, now: datetime) -> Counter:
    """One notice to the business's active owners per 24 h (not one per held mail); the notice
    itself is not counted and never held. Never raises: holding mail must not fail a pass."""
    stats: Counter = Counter()
    try:
        if notice_sent_since(business_id, now - timedelta(hours=24)):
            return stats
        business = db.session.get(Business, business_id)
        owners = sorted(owner_addresses(business_id))
        if business is None or not owners:
            return stats
        until = quota.full_until.get(business_id) or quota.free_at(business_id, now)
        content = render_quota_notice(
            business, get_settings(business), quota.limit, held_count(business_id), until
        )
        key = notice_key(business_id, now)
        new = outbox.enqueue(
            business_id=business_id,
            history_id=None,
            kind=KIND_QUOTA,
            recipients=clean_list(owners),
            content=content,
            key_parts=key,
            now=now,
        )
        db.session.commit()
        if new:
            ids = outbox.pending_with_prefix(key)
            stats["notices"] += len(ids)
            stats.update({k: v for k, v in send_rows(ids, now).items() if k == "sent"})
    except Exception:
        log.exception("Could not tell the owners of %s that their mail is held", business_id)
        db.session.rollback()
    return stats


def _content_key(payload: dict) -> str:
    keys = ("subject", "text", "html", "from_name", "reply_to", "attachment", "attachments")
    parts = [str(payload.get(k)) for k in keys]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _render_bytes(message: Message, row: MailMessage, rendered: dict) -> bytes:
    """The message's bytes, reusing the previous row's rendering when only the recipient and the
    Message-ID differ (the mails of one run to several people)."""
    # A mail personalised for its recipient (the unsubscribe link of an outside recipient) is
    # never reused for another one.
    personal = "List-Unsubscribe" in (message.extra_headers or {})
    key = None if personal else _content_key(row.payload or {})
    recipient = str(message.recipients[0])
    if key is not None and rendered.get("key") == key:
        data = mailer.with_recipient(
            rendered["data"], (rendered["to"], rendered["id"]), (recipient, message.msgId)
        )
        if data is not None:
            return data
    if message.date is None:
        message.date = time.time()
    data = message.as_bytes()
    rendered.update(key=key, to=recipient, id=message.msgId, data=data)
    return data


def sync_history_delivery(history_id: uuid.UUID) -> None:
    """Mirror the export mail's outbox rows into the history: email_delivery, email_recipients,
    email_sent, email_sent_at; COMPLETED becomes EMAILED once one recipient's server accepted it."""
    rows = list(
        db.session.scalars(
            select(MailMessage)
            .where(
                MailMessage.history_id == history_id,
                MailMessage.kind == KIND_EXPORT,
                MailMessage.channel == "email",
            )
            .execution_options(populate_existing=True)
        )
    )
    if not rows:
        return
    rows.sort(key=lambda r: ((r.payload or {}).get("position", 0), r.recipient.lower()))
    timezone = db.session.scalar(
        select(Business.timezone)
        .join(ExportHistory, ExportHistory.business_id == Business.id)
        .where(ExportHistory.id == history_id)
    )
    try:
        tz = ZoneInfo(timezone or "UTC")
    except Exception:
        tz = ZoneInfo("UTC")
    delivery = []
    for r in rows:
        entry = {"email": r.recipient, "accepted": r.status == MAIL_SENT, "error": outbox.describe_row(r, tz)}
        if r.status == MAIL_PENDING and r.held_reason:  # the daily quota: "error" says why and until when
            entry["held"] = True
        delivery.append(entry)
    sent_times = [outbox.aware(r.sent_at) for r in rows if r.status == MAIL_SENT and r.sent_at]
    values: dict = {"email_delivery": delivery, "email_recipients": [r.recipient for r in rows]}
    if sent_times:
        values.update(email_sent=True, email_sent_at=min(sent_times))
    db.session.execute(
        update(ExportHistory)
        .where(ExportHistory.id == history_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    emailed = 0
    if sent_times:
        # Monotonic: only a COMPLETED run becomes EMAILED; nothing else is touched.
        emailed = db.session.execute(
            update(ExportHistory)
            .where(ExportHistory.id == history_id, ExportHistory.status == STATUS_COMPLETED)
            .values(status=STATUS_EMAILED)
            .execution_options(synchronize_session=False)
        ).rowcount
    db.session.commit()
    if emailed == 1:
        run = db.session.execute(
            select(ExportHistory.export_type, ExportHistory.format, ExportHistory.trigger).where(
                ExportHistory.id == history_id
            )
        ).first()
        db.session.rollback()
        if run is not None:
            metrics.record_run(STATUS_EMAILED, run.export_type, run.format, run.trigger)
