"""E-mail delivery: export mails, failure alerts, success notices and weekly summaries.

The `mail_messages` table is the outbox and the source of truth. A mail is first written there, one
row per (purpose, recipient), with a unique `dedupe_key` (so one history never mails the same person
twice for the same purpose) and a Message-ID fixed before the first attempt; it is sent afterwards.

A row moves   pending -> sending -> sent | failed   (or back to pending, with a backoff, after a
transient failure). Every move is a conditional UPDATE on (id, status, attempts), so two processes
never both own a row. A row found in `sending` after its lease (a crash, or a connection that broke
after the whole message had gone out) is not resent at once: only after the lease, with the same
Message-ID, so that a duplicate, if there is one, is recognisable as such by mail clients.

The runner calls `deliver_run_result(history_id)` once a run's final state is committed; the scheduler
calls `process_outbox()` every poll and `send_export_summary_report()` every hour.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_mail import BadHeaderError, Message
from sqlalchemy import and_, exists, func, or_, select, update

from dashboard.automation import mailer
from dashboard.automation.links import link_expires_at, make_download_url
from dashboard.automation.quota import (
    KIND_QUOTA,
    Quota,
    held_count,
    notice_key,
    notice_sent_since,
    owner_addresses,
)
from dashboard.automation.storage import ExportFileNotFound, UnsafePathError, get_storage
from dashboard.base_url import external_base_url
from dashboard.exports.filters import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.extensions import db
from dashboard.logging_setup import log_context
from dashboard.models.automation import (
    MAIL_FAILED,
    MAIL_PENDING,
    MAIL_SENDING,
    MAIL_SENT,
    STATUS_COMPLETED,
    STATUS_EMAILED,
    STATUS_FAILED,
    SUCCESS_STATUSES,
    ExportHistory,
    ExportNotificationSettings,
    ExportSchedule,
    MailMessage,
    dedupe_emails,
)
from dashboard.models.pos import ROLE_OWNER, Business, Membership, User
from dashboard.models.types import utcnow
from dashboard.ops import metrics
from dashboard.services.addresses import domain_allowed, needs_smtputf8
from dashboard.services.notifications import allowed_domains, get_settings
from dashboard.services.presenters import TRIGGER_LABELS, file_size_display, local_display

log = logging.getLogger(__name__)

KIND_EXPORT = "export"
KIND_FAILURE = "failure"
KIND_SUCCESS = "success"
KIND_SUMMARY = "summary"
# KIND_QUOTA ("quota"): the notice to owners that their business's mail is held (quota.py).

TYPE_LABELS = EXPORT_TYPE_LABELS
CONTENT_TYPES = {
    "excel": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
}

# The seed's troubleshooting steps, in words a business manager can act on.
TROUBLESHOOTING_STEPS = [
    "Check the schedule's configuration: export type, format and filters (for example the date range).",
    "Verify that data is available for the chosen period.",
    "Review permissions: the person who created the schedule must still be a member of the business.",
    "Try a manual trigger from the dashboard to see whether the problem persists.",
    "Contact support if it keeps failing, and include the time of this failure.",
]

SUMMARY_WEEKDAY = 6  # Sunday
SUMMARY_HOUR = 8  # 08:00 in the business's timezone


# --------------------------------------------------------------------------- settings and helpers


def _config(name: str, default):
    value = current_app.config.get(name)
    return default if value is None or value == "" else value


def retry_base_seconds() -> float:
    return float(_config("MAIL_RETRY_BASE_SECONDS", 60))


def retry_max_seconds() -> float:
    return float(_config("MAIL_RETRY_MAX_SECONDS", 3600))


def give_up_after() -> timedelta:
    """A mail still undelivered this long after it was queued is marked failed (never silently)."""
    return timedelta(hours=float(_config("MAIL_GIVE_UP_HOURS", 48)))


def sending_lease() -> timedelta:
    """How long a row may stay `sending` before another pass may retry it (same Message-ID). Longer
    than any live attempt: every socket operation of an attempt is bounded by MAIL_TIMEOUT."""
    timeout = float(_config("MAIL_TIMEOUT", 30))
    return timedelta(seconds=float(_config("MAIL_SENDING_LEASE_SECONDS", max(600.0, 10 * timeout))))


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: base x 2^(attempts-1), capped, with 10% jitter."""
    seconds = min(retry_max_seconds(), retry_base_seconds() * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def notification_settings(business: Business) -> ExportNotificationSettings:
    """The business's settings, created with the defaults on first use (failures notified,
    successes not, the business's name as from-name)."""
    return get_settings(business)


def zone(business: Business) -> ZoneInfo:
    try:
        return ZoneInfo(business.timezone or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def local_time(value: datetime | None, business: Business, fmt: str | None = None) -> str:
    """ "15 Mar 2024, 08:00 GMT" in the business's timezone (the pages' format)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if fmt is None:
        return local_display(value, business.timezone or "UTC")
    local = value.astimezone(zone(business))
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_date(value: datetime | None, business: Business) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone(business)).strftime("%d %b %Y").lstrip("0")


def size_display(size: int | None) -> str:
    return file_size_display(size)


def encoded_size(size: int) -> int:
    """Bytes a file takes in a mail: base64 (4 per 3) plus a CRLF every 76 characters."""
    encoded = math.ceil(max(0, size) / 3) * 4
    return encoded + 2 * math.ceil(encoded / 76)


def attachment_limit_bytes() -> int:
    return int(float(_config("MAIL_MAX_ATTACHMENT_MB", 10)) * 1024 * 1024)


def _period(filters: dict | None) -> str:
    filters = filters or {}
    start, end = filters.get("start_date"), filters.get("end_date")

    def nice(value) -> str:
        try:
            return date.fromisoformat(str(value)).strftime("%d %b %Y").lstrip("0")
        except ValueError:
            return str(value)

    if start and end:
        return nice(start) if start == end else f"{nice(start)} – {nice(end)}"
    return ""


def _plain_error(message: str | None) -> str:
    """A sentence a business manager understands; the recorded message goes beside it."""
    text = (message or "").lower()
    if "interrupt" in text or "stale" in text:
        return (
            "The export was interrupted before it finished: the server restarted or the worker "
            "stopped responding."
        )
    if "never started" in text:
        return "The export was queued but never started: the process that queued it stopped."
    if "settings are not valid" in text or "filter" in text or re.search(r"\bdates?\b|date range", text):
        return "The export's settings are not valid any more (for example its filters or date range)."
    if "disk" in text or "no space" in text or "storage" in text or "could not be saved" in text:
        return "The export file could not be saved: the file storage is full or unavailable."
    if "out of memory" in text:
        return "The export ran out of memory: try a shorter period or the CSV format."
    if "database" in text or "operationalerror" in text:
        return "The database could not be reached while the export ran."
    if "timeout" in text or "timed out" in text:
        return "The export took too long and was stopped."
    return "The export could not be completed because of an unexpected error."


def _valid_address(address: str) -> bool:
    return bool(address) and "@" in address and "\n" not in address and "\r" not in address


def _clean_list(addresses: Iterable[str] | None) -> list[str]:
    return [a for a in dedupe_emails(addresses) if _valid_address(a)]


def _member_email(user: User | None, business_id: uuid.UUID) -> str | None:
    """The user's address if they are still an active member of the business."""
    if user is None or not user.is_active_user:
        return None
    member = db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id,
            Membership.business_id == business_id,
            Membership.is_active.is_(True),
        )
    )
    return user.email if member is not None else None


# --------------------------------------------------------------------------- who gets what


def export_recipients(history: ExportHistory) -> list[str]:
    """The export mail's recipients: the trigger's override, else the schedule's list; nobody when
    the run asked for no mail or was skipped as empty."""
    if not history.send_email or history.status not in SUCCESS_STATUSES:
        return []
    schedule = history.schedule
    if history.record_count == 0 and schedule is not None and schedule.skip_if_empty:
        return []
    if history.override_recipients is not None:
        return _clean_list(history.override_recipients)
    if schedule is None:
        return []
    return _clean_list(schedule.get_recipients_list())


def failure_recipients(history: ExportHistory, settings: ExportNotificationSettings) -> list[str]:
    """default_recipients, else the schedule's creator, and for a run someone started, that person."""
    if not settings.notify_on_failure:
        return []
    defaults = _clean_list(settings.default_recipients)
    if defaults:
        return defaults
    people: list[str | None] = []
    if history.schedule is not None:
        people.append(_member_email(history.schedule.created_by, history.business_id))
    if history.user is not None and (history.schedule is None or history.trigger != "SCHEDULED"):
        people.append(_member_email(history.user, history.business_id))
    return _clean_list(p for p in people if p)


def success_notice_recipients(
    history: ExportHistory, settings: ExportNotificationSettings, export_to: list[str]
) -> list[str]:
    """default_recipients when notify_on_success, minus those who get the export mail itself."""
    if not settings.notify_on_success or history.status not in SUCCESS_STATUSES:
        return []
    already = {a.lower() for a in export_to}
    return [a for a in _clean_list(settings.default_recipients) if a.lower() not in already]


def summary_recipients(business: Business, settings: ExportNotificationSettings) -> list[str]:
    """default_recipients, else the business's active owners."""
    defaults = _clean_list(settings.default_recipients)
    if defaults:
        return defaults
    owners = db.session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.business_id == business.id,
            Membership.role == ROLE_OWNER,
            Membership.is_active.is_(True),
            User.is_active_user.is_(True),
        )
        .order_by(User.email)
    )
    return _clean_list(owners)


# --------------------------------------------------------------------------- content


@dataclass
class MailContent:
    subject: str
    text: str
    html: str
    from_name: str
    reply_to: str = ""
    attachment: dict | None = None  # {"path", "name", "content_type", "size"}
    extra: dict = field(default_factory=dict)

    def payload(self, position: int) -> dict:
        return {
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "from_name": self.from_name,
            "reply_to": self.reply_to,
            "attachment": self.attachment,
            "position": position,
            **self.extra,
        }


def _render(name: str, **context) -> tuple[str, str]:
    # The app's Jinja environment directly: no request context is needed (the scheduler thread has
    # none), the layout's context processors stay out, and .html templates are autoescaped.
    env = current_app.jinja_env
    html = env.get_template(f"emails/{name}.html").render(**context)
    text = env.get_template(f"emails/{name}.txt").render(**context)
    # Template logic leaves runs of blank lines in plain text; one blank line between blocks.
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text, html


def _base_context(business: Business, settings: ExportNotificationSettings) -> dict:
    base_url = external_base_url()
    return {
        "business_name": business.name,
        "dashboard_url": f"{base_url}/",
        "from_name": _from_name(business, settings),
    }


def _from_name(business: Business, settings: ExportNotificationSettings) -> str:
    return mailer.clean_header(settings.from_name or business.name, 120) or "Export Automation"


def _file_context(history: ExportHistory) -> dict:
    business = history.business
    when = history.completed_at or history.created_at
    context = {
        "type_label": TYPE_LABELS.get(history.export_type, history.export_type.title()),
        "format_label": FORMAT_LABELS.get(history.format, history.format.upper()),
        "schedule_name": history.schedule_name or (history.schedule.name if history.schedule else ""),
        "record_count": history.record_count or 0,
        "record_count_display": f"{history.record_count or 0:,}",
        "total_records_display": f"{history.total_records:,}" if history.total_records else "",
        "truncated": bool(history.truncated and history.total_records),
        "file_name": history.file_name,
        "file_size_display": size_display(history.file_size),
        "generated_at": local_time(when, business),
        "period": _period(history.filters_applied),
        "trigger_label": TRIGGER_LABELS.get(history.trigger, history.trigger.title()),
        "has_file": history.is_downloadable,
        "download_url": "",
        "link_expires": "",
    }
    if history.is_downloadable:
        issued = utcnow()
        context["download_url"] = make_download_url(history, issued)
        context["link_expires"] = local_date(link_expires_at(issued), business)
    return context


def _default_subject(history: ExportHistory, labels: dict) -> str:
    when = local_date(history.completed_at or history.created_at, history.business)
    return f"{labels['type_label']} export ({labels['format_label']}) — {history.business.name} — {when}"


def render_export_mail(history: ExportHistory, settings: ExportNotificationSettings) -> MailContent:
    business = history.business
    context = {**_base_context(business, settings), **_file_context(history)}
    schedule = history.schedule
    context["custom_message"] = (schedule.email_message or "").strip() if schedule else ""
    limit = attachment_limit_bytes()
    size = int(history.file_size or 0)
    attach = history.is_downloadable and encoded_size(size) <= limit
    context["attached"] = attach
    context["link_only_reason"] = ""
    if history.is_downloadable and not attach:
        context["link_only_reason"] = (
            f"The file is {size_display(size)} ({size_display(encoded_size(size))} once encoded for "
            f"e-mail), more than the {size_display(limit)} that mail attachments may take, so it is "
            "not attached: download it with the link below."
        )
    subject = (schedule.email_subject if schedule and schedule.email_subject else "") or _default_subject(
        history, context
    )
    text, html = _render("export_success", **context)
    attachment = None
    if attach:
        attachment = {
            "path": history.file_path,
            "name": history.file_name,
            "content_type": CONTENT_TYPES.get(history.format, "application/octet-stream"),
            "size": size,
        }
    return MailContent(
        subject=mailer.clean_header(subject, 255),
        text=text,
        html=html,
        from_name=_from_name(business, settings),
        reply_to=settings.reply_to_email or "",
        attachment=attachment,
    )


def _next_run_note(history: ExportHistory) -> tuple[str, str]:
    """(next run in the business's timezone, or "", and a sentence about what happens next)."""
    business = history.business
    retry = ""
    if history.next_retry_at is not None:  # the runner set it: a scheduled run within its retries
        retry = f"It will be retried automatically at {local_time(history.next_retry_at, business)}. "
    schedule = history.schedule
    if schedule is None:
        if history.schedule_id is None and not history.schedule_name:
            return "", retry + "This was a one-off export: start it again from the dashboard when ready."
        return "", retry + "Its schedule has been deleted, so it will not run again."
    if not schedule.is_active or schedule.next_run_at is None:
        return "", retry + "The schedule is inactive: it will not run again until it is activated."
    return local_time(schedule.next_run_at, business), retry.strip()


def render_failure_alert(history: ExportHistory, settings: ExportNotificationSettings) -> MailContent:
    business = history.business
    context = {**_base_context(business, settings), **_file_context(history)}
    next_run, next_note = _next_run_note(history)
    context.update(
        failed_at=local_time(history.completed_at or history.created_at, business),
        plain_error=_plain_error(history.error_message),
        technical_error=(history.error_message or "").strip()[:600],
        steps=TROUBLESHOOTING_STEPS,
        next_run=next_run,
        next_note=next_note,
        attempt=history.attempt or 1,
    )
    name = context["schedule_name"] or f"{context['type_label']} export"
    subject = f"Export failed: {name} ({context['format_label']}) — {business.name}"
    text, html = _render("export_failure", **context)
    return MailContent(
        subject=mailer.clean_header(subject, 255),
        text=text,
        html=html,
        from_name=_from_name(business, settings),
        reply_to=settings.reply_to_email or "",
    )


def render_success_notice(
    history: ExportHistory, settings: ExportNotificationSettings, export_to: list[str]
) -> MailContent:
    business = history.business
    context = {**_base_context(business, settings), **_file_context(history)}
    context["export_to"] = export_to
    context["emailed_count"] = len(export_to)
    schedule = history.schedule
    context["skipped_empty"] = bool(
        not export_to and history.record_count == 0 and schedule is not None and schedule.skip_if_empty
    )
    name = context["schedule_name"] or f"{context['type_label']} export"
    subject = f"Export completed: {name} ({context['format_label']}) — {business.name}"
    text, html = _render("success_notice", **context)
    return MailContent(
        subject=mailer.clean_header(subject, 255),
        text=text,
        html=html,
        from_name=_from_name(business, settings),
        reply_to=settings.reply_to_email or "",
    )


# --------------------------------------------------------------------------- the outbox


def _message_domain() -> str:
    address = mailer.sender_address()
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


def dedupe_key(*parts: object, recipient: str) -> str:
    key = ":".join(str(p) for p in parts) + ":" + recipient.strip().lower()
    if len(key) > 255:  # a very long address: keep the key unique and within the column
        digest = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()
        key = ":".join(str(p) for p in parts) + ":" + digest
    return key


def _insert_ignoring_duplicates(rows: list[dict]) -> int:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING: concurrent callers insert each mail once."""
    if not rows:
        return 0
    table = MailMessage.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = (
            insert(table)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.c.id)  # rowcount is -1 here with psycopg 3; RETURNING counts truly
        )
        return len(db.session.execute(statement).all())
    inserted = 0  # other databases: one row at a time, a savepoint around each
    for row in rows:
        if db.session.scalar(select(MailMessage.id).where(MailMessage.dedupe_key == row["dedupe_key"])):
            continue
        try:
            with db.session.begin_nested():
                db.session.execute(table.insert().values(row))
            inserted += 1
        except Exception:
            log.info("Mail %s already queued by another process", row["dedupe_key"])
    return inserted


def enqueue(
    *,
    business_id: uuid.UUID,
    history_id: uuid.UUID | None,
    kind: str,
    recipients: list[str],
    content: MailContent,
    key_parts: tuple,
    now: datetime | None = None,
) -> int:
    """Queue one mail per recipient (not committed). Returns how many rows were new."""
    now = now or utcnow()
    domain = _message_domain()
    rows = []
    for position, recipient in enumerate(recipients):
        rows.append(
            {
                "id": uuid.uuid4(),
                "business_id": business_id,
                "history_id": history_id,
                "kind": kind,
                "dedupe_key": dedupe_key(*key_parts, recipient=recipient),
                "recipient": recipient[:254],
                # Fixed before the first attempt: every retry carries the same Message-ID.
                "message_id": make_msgid(idstring=kind, domain=domain),
                "status": MAIL_PENDING,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": "",
                "sent_at": None,
                # A microsecond apart: the outbox sends in created_at order, i.e. the list's order.
                "created_at": now + timedelta(microseconds=position),
                "payload": content.payload(position),
            }
        )
    return _insert_ignoring_duplicates(rows)


def enqueue_run_mails(history: ExportHistory, now: datetime | None = None) -> int:
    """Queue every mail a finished run gives rise to; commits. Idempotent."""
    business = history.business
    settings = notification_settings(business)
    queued = 0
    if history.status in SUCCESS_STATUSES:
        export_to = export_recipients(history)
        if export_to:
            content = render_export_mail(history, settings)
            queued += enqueue(
                business_id=business.id,
                history_id=history.id,
                kind=KIND_EXPORT,
                recipients=export_to,
                content=content,
                key_parts=(KIND_EXPORT, history.id),
                now=now,
            )
            if list(history.email_recipients or []) != export_to:
                history.email_recipients = export_to
        notice_to = success_notice_recipients(history, settings, export_to)
        if notice_to:
            content = render_success_notice(history, settings, export_to)
            queued += enqueue(
                business_id=business.id,
                history_id=history.id,
                kind=KIND_SUCCESS,
                recipients=notice_to,
                content=content,
                key_parts=(KIND_SUCCESS, history.id),
                now=now,
            )
    elif history.status == STATUS_FAILED:
        alert_to = failure_recipients(history, settings)
        if alert_to:
            content = render_failure_alert(history, settings)
            queued += enqueue(
                business_id=business.id,
                history_id=history.id,
                kind=KIND_FAILURE,
                recipients=alert_to,
                content=content,
                key_parts=(KIND_FAILURE, history.id),
                now=now,
            )
    db.session.commit()
    return queued


# --------------------------------------------------------------------------- sending


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
    message = mailer.OutgoingMessage(
        subject=mailer.clean_header(payload.get("subject"), 255),
        recipients=[mailer.clean_header(row.recipient, 254)],
        body=payload.get("text") or "",
        html=payload.get("html") or None,
        sender=sender,
        reply_to=reply_to,
        extra_headers={
            # RFC 3834: automatic mail; keeps out-of-office replies from answering it.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    message.msgId = row.message_id
    attachment = payload.get("attachment")
    if attachment:
        cache = file_cache if file_cache is not None else {}
        path = attachment["path"]
        if path not in cache:
            cache.clear()  # hold one file at a time
            cache[path] = _read_export_file(path)
        name = mailer.clean_header(attachment.get("name"), 200).replace('"', "") or "export"
        message.attach(filename=name, content_type=attachment.get("content_type"), data=cache[path])
    return message


def _claim(row: MailMessage, now: datetime, quota: Quota | None = None) -> int | None:
    """Take the row for one attempt: a conditional UPDATE on its (status, attempts) as read. With
    `quota` (the row takes a daily slot), the same UPDATE takes the slot only if one is free."""
    attempt = (row.attempts or 0) + 1
    conditions = [
        MailMessage.id == row.id,
        MailMessage.status == row.status,
        MailMessage.attempts == (row.attempts or 0),
        MailMessage.status.in_((MAIL_PENDING, MAIL_SENDING)),
    ]
    values: dict = {"status": MAIL_SENDING, "attempts": attempt, "next_attempt_at": now + sending_lease()}
    if quota is not None:
        quota.lock(row.business_id)
        conditions += [MailMessage.counted_at.is_(None), quota.window_condition(row.business_id, now)]
        values.update(counted_at=now, held_reason="")
    result = db.session.execute(
        update(MailMessage).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )
    db.session.commit()
    return attempt if result.rowcount == 1 else None


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


def _refuse(row: MailMessage, reason: str) -> bool:
    result = db.session.execute(
        update(MailMessage)
        .where(
            MailMessage.id == row.id,
            MailMessage.status.in_((MAIL_PENDING, MAIL_SENDING)),
            MailMessage.attempts == (row.attempts or 0),
        )
        .values(status=MAIL_FAILED, next_attempt_at=None, last_error=reason, held_reason="")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _hold_reason(business_id: uuid.UUID, limit: int, until: datetime) -> str:
    business = db.session.get(Business, business_id)
    when = local_time(until, business) if business is not None else until.strftime("%d %b %Y, %H:%M UTC")
    return (
        f"Held: this business reached its daily limit of {limit} e-mails (a rolling 24 hours); "
        f"it will be sent from {when}."
    )


def _finish(row_id: uuid.UUID, attempt: int, **values) -> bool:
    """Record an attempt's outcome, only if this attempt still owns the row."""
    result = db.session.execute(
        update(MailMessage)
        .where(MailMessage.id == row_id, MailMessage.status == MAIL_SENDING, MailMessage.attempts == attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _record(row: MailMessage, attempt: int, outcome: mailer.RecipientResult, now: datetime) -> str:
    if outcome.outcome == mailer.ACCEPTED:
        _finish(row.id, attempt, status=MAIL_SENT, sent_at=now, next_attempt_at=None, last_error="")
        return "sent"
    if outcome.outcome == mailer.PERMANENT:
        _finish(row.id, attempt, status=MAIL_FAILED, next_attempt_at=None, last_error=outcome.error)
        return "failed"
    if outcome.outcome == mailer.UNCERTAIN:
        # Stays `sending` until its lease ends; then it is retried with the same Message-ID.
        _finish(row.id, attempt, next_attempt_at=now + sending_lease(), last_error=outcome.error)
        return "uncertain"
    # A held mail's 48 hours start when it is first tried, not when it was queued.
    started = row.counted_at or (now if row.held_reason else row.created_at)
    if now - _aware(started) >= give_up_after():
        _finish(
            row.id,
            attempt,
            status=MAIL_FAILED,
            next_attempt_at=None,
            last_error=f"Gave up after {attempt} attempts: {outcome.error}",
        )
        return "failed"
    _finish(
        row.id, attempt, status=MAIL_PENDING, next_attempt_at=now + backoff(attempt), last_error=outcome.error
    )
    return "retry"


def _report_outcome(row: MailMessage, attempt: int, recorded: str, outcome: mailer.RecipientResult) -> None:
    """Count the attempt, and say every failure in the log (WARNING, with the run's id): the
    database alone holds the error otherwise, and operators read logs, not rows."""
    if recorded == "failed":
        recorded = "refused" if outcome.outcome == mailer.PERMANENT else "given_up"
    metrics.record_mail(row.kind, recorded)
    if recorded == "sent":
        return
    with log_context(
        history_id=str(row.history_id) if row.history_id else None,
        mail_id=str(row.id),
        mail_kind=row.kind,
        mail_outcome=recorded,
        mail_attempt=attempt,
    ):
        log.warning("mail %s to %s not delivered (%s): %s", row.kind, row.recipient, recorded, outcome.error)


def _report_held(row: MailMessage, until: datetime) -> None:
    """Held is not lost (it is sent when the window allows): counted, and logged at INFO."""
    metrics.record_mail(row.kind, "held")
    with log_context(history_id=str(row.history_id) if row.history_id else None, mail_id=str(row.id)):
        log.info("mail %s to %s held until %s (daily limit)", row.kind, row.recipient, until.isoformat())


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return utcnow()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _defer(row_ids: list[uuid.UUID], error: str, until: datetime) -> int:
    """Rows not tried because the server is unreachable: wait with the failed one, attempts unchanged."""
    if not row_ids:
        return 0
    result = db.session.execute(
        update(MailMessage)
        .where(MailMessage.id.in_(row_ids), MailMessage.status == MAIL_PENDING)
        .values(next_attempt_at=until, last_error=error)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def _due(now: datetime):
    return or_(
        and_(
            MailMessage.status == MAIL_PENDING,
            or_(MailMessage.next_attempt_at.is_(None), MailMessage.next_attempt_at <= now),
        ),
        and_(MailMessage.status == MAIL_SENDING, MailMessage.next_attempt_at <= now),
    )


def _hold(row: MailMessage, quota: Quota, until: datetime, stats: Counter, touched: set[uuid.UUID]) -> None:
    """Hold a mail over its business's daily limit until `until` (counted and reported once)."""
    if quota.hold(row, until, _hold_reason(row.business_id, quota.limit, until)):
        stats["held"] += 1
        _report_held(row, until)
        if row.history_id:
            touched.add(row.history_id)


def send_rows(row_ids: list[uuid.UUID], now: datetime | None = None) -> Counter:
    """Attempt each due row once, over one connection; stop early when the server is unreachable."""
    now = now or utcnow()
    stats: Counter = Counter()
    touched: set[uuid.UUID] = set()
    file_cache: dict = {}
    rendered: dict = {}  # the last rendered message: (content key, recipient, message id, bytes)
    quota = Quota()
    domains: dict[uuid.UUID, list[str]] = {}
    with mailer.open_transport() as transport:
        for index, row_id in enumerate(row_ids):
            row = db.session.get(MailMessage, row_id, populate_existing=True)
            if row is None or row.status not in (MAIL_PENDING, MAIL_SENDING):
                continue
            due_at = _aware(row.next_attempt_at) if row.next_attempt_at else None
            if due_at is not None and due_at > now:
                continue
            refusal = _refusal(row, domains)
            if refusal:
                if _refuse(row, refusal):
                    stats["failed"] += 1
                    _report_outcome(
                        row,
                        row.attempts or 0,
                        "refused",
                        mailer.RecipientResult(row.recipient, mailer.PERMANENT, None, refusal),
                    )
                    if row.history_id:
                        touched.add(row.history_id)
                continue
            counts = quota.counts(row)
            if counts and row.business_id in quota.full_until:
                _hold(row, quota, quota.full_until[row.business_id], stats, touched)
                continue
            seen = (row.id, row.status, row.attempts or 0)  # a commit reloads the row: keep what was read
            attempt = _claim(row, now, quota if counts else None)
            if attempt is None:
                if counts and _unchanged(*seen):  # no free slot in the window: hold it
                    until = quota.free_at(row.business_id, now)
                    quota.full_until[row.business_id] = until
                    _hold(row, quota, until, stats, touched)
                    continue
                stats["skipped"] += 1  # another process took it
                continue
            if row.history_id:
                touched.add(row.history_id)
            try:
                message = build_message(row, file_cache)
                result = transport.send(message, _render_bytes(message, row, rendered))
                outcome = result.recipients.get(str(message.recipients[0])) or next(
                    iter(result.recipients.values())
                )
            except _FileGone:
                outcome = mailer.RecipientResult(
                    row.recipient, mailer.PERMANENT, None, "The export file is no longer available."
                )
                result = mailer.SendResult()
            except BadHeaderError as exc:
                outcome = mailer.RecipientResult(row.recipient, mailer.PERMANENT, None, f"Bad header: {exc}")
                result = mailer.SendResult()
            except Exception as exc:  # storage hiccup, template data problem: try again later
                log.exception("Could not build or send mail %s", row.id)
                outcome = mailer.RecipientResult(
                    row.recipient,
                    mailer.TRANSIENT,
                    None,
                    mailer.clean_header(f"{type(exc).__name__}: {exc}", 500),
                )
                result = mailer.SendResult()
            recorded = _record(row, attempt, outcome, now)
            stats[recorded] += 1
            _report_outcome(row, attempt, recorded, outcome)
            if result.connection_error and outcome.outcome == mailer.TRANSIENT:
                rest = [r for r in row_ids[index + 1 :]]
                stats["deferred"] += _defer(rest, outcome.error, now + backoff(attempt))
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


def _unchanged(row_id: uuid.UUID, status: str, attempts: int) -> bool:
    """The row is still as read (so a failed claim was the quota's doing, not another process's)."""
    current = db.session.execute(
        select(MailMessage.status, MailMessage.attempts, MailMessage.counted_at).where(
            MailMessage.id == row_id
        )
    ).first()
    return current is not None and (current[0], current[1]) == (status, attempts) and current[2] is None


def render_quota_notice(business: Business, limit: int, held: int, until: datetime) -> MailContent:
    settings = notification_settings(business)
    context = {
        **_base_context(business, settings),
        "limit": limit,
        "held": held,
        "until": local_time(until, business),
    }
    text, html = _render("quota_notice", **context)
    subject = f"E-mail held: {business.name} reached its daily limit of {limit} e-mails"
    return MailContent(
        subject=mailer.clean_header(subject, 255),
        text=text,
        html=html,
        from_name=_from_name(business, settings),
        reply_to=settings.reply_to_email or "",
    )


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
        content = render_quota_notice(business, quota.limit, held_count(business_id), until)
        key = notice_key(business_id, now)
        new = enqueue(
            business_id=business_id,
            history_id=None,
            kind=KIND_QUOTA,
            recipients=_clean_list(owners),
            content=content,
            key_parts=key,
            now=now,
        )
        db.session.commit()
        if new:
            prefix = ":".join(str(p) for p in key) + ":"
            ids = list(
                db.session.scalars(
                    select(MailMessage.id).where(
                        MailMessage.dedupe_key.startswith(prefix, autoescape=True),
                        MailMessage.status == MAIL_PENDING,
                    )
                )
            )
            stats["notices"] += len(ids)
            stats.update({k: v for k, v in send_rows(ids, now).items() if k == "sent"})
    except Exception:
        log.exception("Could not tell the owners of %s that their mail is held", business_id)
        db.session.rollback()
    return stats


def _content_key(payload: dict) -> str:
    parts = [str(payload.get(k)) for k in ("subject", "text", "html", "from_name", "reply_to", "attachment")]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _render_bytes(message: Message, row: MailMessage, rendered: dict) -> bytes:
    """The message's bytes, reusing the previous row's rendering when only the recipient and the
    Message-ID differ (the mails of one run to several people)."""
    key = _content_key(row.payload or {})
    recipient = str(message.recipients[0])
    if rendered.get("key") == key:
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


def _describe_row(row: MailMessage, tz: ZoneInfo | None = None) -> str | None:
    if row.status == MAIL_SENT:
        return None
    if row.status == MAIL_FAILED:
        return row.last_error or "Not delivered."
    if row.status == MAIL_PENDING and row.held_reason:
        return row.held_reason
    if row.status == MAIL_SENDING and row.last_error:
        return f"Delivery uncertain, checking again later: {row.last_error}"
    if row.status == MAIL_SENDING:
        return "Sending…"
    if row.last_error:
        when = "soon"
        if row.next_attempt_at:
            local = _aware(row.next_attempt_at).astimezone(tz or ZoneInfo("UTC"))
            when = f"{local:%H:%M} {local.tzname()}"
        return f"Not delivered yet: {row.last_error.rstrip('.')}. Trying again at {when}."
    return "Queued for sending."


def sync_history_delivery(history_id: uuid.UUID) -> None:
    """Mirror the export mail's outbox rows into the history: email_delivery, email_recipients,
    email_sent, email_sent_at; COMPLETED becomes EMAILED once one recipient's server accepted it."""
    rows = list(
        db.session.scalars(
            select(MailMessage)
            .where(MailMessage.history_id == history_id, MailMessage.kind == KIND_EXPORT)
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
        entry = {"email": r.recipient, "accepted": r.status == MAIL_SENT, "error": _describe_row(r, tz)}
        if r.status == MAIL_PENDING and r.held_reason:  # the daily quota: "error" says why and until when
            entry["held"] = True
        delivery.append(entry)
    sent_times = [_aware(r.sent_at) for r in rows if r.status == MAIL_SENT and r.sent_at]
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


def _pending_ids(now: datetime, history_id: uuid.UUID | None = None, limit: int = 500) -> list[uuid.UUID]:
    query = select(MailMessage.id).where(_due(now))
    if history_id is not None:
        query = query.where(MailMessage.history_id == history_id)
    return list(db.session.scalars(query.order_by(MailMessage.created_at, MailMessage.id).limit(limit)))


# --------------------------------------------------------------------------- entry points


def deliver_run_result(history_id: uuid.UUID) -> None:
    """Called by the runner once a run's final state is committed: queue and send its mails.

    Never raises: a mail problem must not fail a finished export. What could not be sent stays in
    the outbox for `process_outbox`."""
    try:
        history = db.session.get(ExportHistory, history_id, populate_existing=True)
        if history is None:
            return
        enqueue_run_mails(history)
        send_rows(_pending_ids(utcnow(), history_id=history_id))
        sync_history_delivery(history_id)
    except Exception:
        log.exception("Mail delivery for export %s failed; the outbox will retry", history_id)
        db.session.rollback()


# Runs that need no mail are looked at once per process, not at every poll.
_recovery_seen: set[uuid.UUID] = set()


def recover_undelivered(now: datetime) -> int:
    """Queue mails for runs that finished without any (a crash between the runner's commit and
    its call to deliver_run_result). Looks at the last six hours, leaving the runner two minutes."""
    window_start, window_end = now - timedelta(hours=6), now - timedelta(minutes=2)
    histories = db.session.scalars(
        select(ExportHistory)
        .where(
            ExportHistory.status.in_((STATUS_COMPLETED, STATUS_FAILED)),
            ExportHistory.completed_at >= window_start,
            ExportHistory.completed_at <= window_end,
            ExportHistory.started_at.is_not(None),
            ~exists().where(MailMessage.history_id == ExportHistory.id),
        )
        .order_by(ExportHistory.completed_at)
        .limit(200)
    ).all()
    queued = 0
    for history in histories:
        if history.id in _recovery_seen:
            continue
        if len(_recovery_seen) > 50_000:
            _recovery_seen.clear()
        _recovery_seen.add(history.id)
        try:
            queued += enqueue_run_mails(history, now=now)
        except Exception:
            log.exception("Could not queue mails for export %s", history.id)
            db.session.rollback()
    return queued


def process_outbox(now: datetime | None = None) -> dict:
    """One pass over the outbox (every scheduler poll): send what is due, retry what failed for a
    transient reason, pick up rows whose `sending` lease ended. Returns counts."""
    now = now or utcnow()
    stats: Counter = Counter()
    try:
        stats["recovered"] = recover_undelivered(now)
    except Exception:
        log.exception("Recovering undelivered run mails failed")
        db.session.rollback()
    stats.update(send_rows(_pending_ids(now), now))
    summary = {
        key: int(stats.get(key, 0)) for key in ("sent", "retry", "failed", "uncertain", "deferred", "held")
    }
    summary["recovered"] = int(stats.get("recovered", 0))
    summary["skipped"] = int(stats.get("skipped", 0))
    if any(summary.values()):
        log.info("Mail outbox: %s", summary)
    return summary


# --------------------------------------------------------------------------- weekly summary


def _iso_week(local: datetime) -> str:
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def summary_figures(business: Business, start: datetime, end: datetime) -> dict:
    """The past period's figures for one business."""
    rows = db.session.execute(
        select(
            ExportHistory.export_type,
            ExportHistory.status,
            func.count(ExportHistory.id),
            func.coalesce(func.sum(ExportHistory.record_count), 0),
            func.coalesce(func.sum(ExportHistory.file_size), 0),
        )
        .where(
            ExportHistory.business_id == business.id,
            ExportHistory.created_at >= start,
            ExportHistory.created_at < end,
        )
        .group_by(ExportHistory.export_type, ExportHistory.status)
    ).all()
    by_type: dict[str, dict] = {}
    totals = Counter()
    for export_type, status, count, records, size in rows:
        entry = by_type.setdefault(
            export_type,
            {"label": TYPE_LABELS.get(export_type, export_type), "total": 0, "successful": 0, "failed": 0},
        )
        entry["total"] += count
        totals["total"] += count
        if status in SUCCESS_STATUSES:
            entry["successful"] += count
            totals["successful"] += count
            totals["records"] += int(records or 0)
            totals["bytes"] += int(size or 0)
        elif status == STATUS_FAILED:
            entry["failed"] += count
            totals["failed"] += count
        if status == STATUS_EMAILED:
            totals["emailed"] += count
    finished = totals["successful"] + totals["failed"]
    success_rate = round(100 * totals["successful"] / finished, 1) if finished else None
    failures = db.session.scalars(
        select(ExportHistory)
        .where(
            ExportHistory.business_id == business.id,
            ExportHistory.status == STATUS_FAILED,
            ExportHistory.created_at >= start,
            ExportHistory.created_at < end,
        )
        .order_by(ExportHistory.created_at.desc())
        .limit(10)
    ).all()
    active = db.session.scalar(
        select(func.count(ExportSchedule.id)).where(
            ExportSchedule.business_id == business.id, ExportSchedule.is_active.is_(True)
        )
    )
    return {
        "total": totals["total"],
        "successful": totals["successful"],
        "failed": totals["failed"],
        "emailed": totals["emailed"],
        "in_progress": totals["total"] - finished,
        "success_rate": success_rate,
        "success_rate_display": "—" if success_rate is None else f"{success_rate:g}%",
        "records_display": f"{totals['records']:,}",
        "volume_display": size_display(totals["bytes"]),
        "by_type": [by_type[k] for k in sorted(by_type, key=lambda k: TYPE_LABELS.get(k, k))],
        "failures": [
            {
                "when": local_time(f.created_at, business, "%a %d %b, %H:%M"),
                "name": f.schedule_name or f"{TYPE_LABELS.get(f.export_type, f.export_type)} export",
                "format_label": FORMAT_LABELS.get(f.format, f.format),
                "error": _plain_error(f.error_message),
            }
            for f in failures
        ],
        "more_failures": max(0, totals["failed"] - len(failures)),
        "active_schedules": int(active or 0),
    }


def render_weekly_summary(
    business: Business, settings: ExportNotificationSettings, start: datetime, end: datetime
) -> MailContent:
    figures = summary_figures(business, start, end)
    period = f"{local_date(start, business)} – {local_date(end, business)}"
    context = {
        **_base_context(business, settings),
        **figures,
        "period": period,
        "period_detail": f"{local_time(start, business)} to {local_time(end, business)}",
    }
    subject = f"Weekly export summary — {business.name} — {period}"
    text, html = _render("weekly_summary", **context)
    return MailContent(
        subject=mailer.clean_header(subject, 255),
        text=text,
        html=html,
        from_name=_from_name(business, settings),
        reply_to=settings.reply_to_email or "",
        extra={"figures": {k: figures[k] for k in ("total", "successful", "failed", "emailed")}},
    )


def _summary_businesses(start: datetime, end: datetime) -> list[Business]:
    """Businesses with export schedules, or with export runs in the period."""
    with_schedules = select(ExportSchedule.business_id)
    with_runs = select(ExportHistory.business_id).where(
        ExportHistory.created_at >= start, ExportHistory.created_at < end
    )
    return list(
        db.session.scalars(
            select(Business)
            .where(or_(Business.id.in_(with_schedules), Business.id.in_(with_runs)))
            .order_by(Business.name)
        )
    )


def send_export_summary_report(now: datetime | None = None, force: bool = False) -> dict:
    """Hourly: each business gets the past 7 days' summary once per ISO week, from Sunday 08:00 in its
    timezone (a later pass that Sunday catches up after downtime). `force` sends it now, whatever the day."""
    now = now or utcnow()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    start = now - timedelta(days=7)
    stats = Counter()
    for business in _summary_businesses(start, now):
        stats["businesses_checked"] += 1
        local = now.astimezone(zone(business))
        week = _iso_week(local)
        if force:
            key_parts: tuple = ("summary-forced", business.id, now.strftime("%Y%m%dT%H%M%S"))
        else:
            if local.weekday() != SUMMARY_WEEKDAY or local.hour < SUMMARY_HOUR:
                stats["not_due"] += 1
                continue
            prefix = f"{KIND_SUMMARY}:{business.id}:{week}:"
            already = db.session.scalar(
                select(func.count(MailMessage.id)).where(
                    MailMessage.dedupe_key.startswith(prefix, autoescape=True)
                )
            )
            if already:
                stats["already_sent"] += 1
                continue
            key_parts = (KIND_SUMMARY, business.id, week)
        try:
            settings = notification_settings(business)
            recipients = summary_recipients(business, settings)
            if not recipients:
                stats["no_recipients"] += 1
                continue
            content = render_weekly_summary(business, settings, start, now)
            new = enqueue(
                business_id=business.id,
                history_id=None,
                kind=KIND_SUMMARY,
                recipients=recipients,
                content=content,
                key_parts=key_parts,
                now=now,
            )
            db.session.commit()
        except Exception:
            log.exception("Could not prepare the weekly summary of %s", business.name)
            db.session.rollback()
            stats["errors"] += 1
            continue
        if new:
            stats["summaries"] += 1
            stats["messages"] += new
            prefix = ":".join(str(p) for p in key_parts) + ":"
            ids = list(
                db.session.scalars(
                    select(MailMessage.id).where(
                        MailMessage.dedupe_key.startswith(prefix, autoescape=True),
                        MailMessage.status == MAIL_PENDING,
                    )
                )
            )
            sent = send_rows(ids, now)
            stats["sent"] += sent.get("sent", 0)
    result = {
        key: int(stats.get(key, 0))
        for key in (
            "businesses_checked",
            "summaries",
            "messages",
            "sent",
            "already_sent",
            "not_due",
            "no_recipients",
            "errors",
        )
    }
    log.info("Weekly summaries: %s", result)
    return result


# --------------------------------------------------------------------------- the seed's service


class EmailDeliveryService:
    """The seed's interface over the outbox: each method queues the mail, sends it now, and returns
    the per-recipient results as recorded (`[{"email", "accepted", "error"}]`)."""

    def send_export_email(self, history: ExportHistory, recipients: list[str] | None = None) -> list[dict]:
        settings = notification_settings(history.business)
        recipients = _clean_list(recipients) if recipients is not None else export_recipients(history)
        return self._queue_and_send(
            history, KIND_EXPORT, recipients, lambda: render_export_mail(history, settings)
        )

    def send_failure_notification(
        self, history: ExportHistory, recipients: list[str] | None = None, error_message: str | None = None
    ) -> list[dict]:
        settings = notification_settings(history.business)
        if error_message and not history.error_message:
            history.error_message = error_message
        if recipients is None:
            recipients = failure_recipients(history, settings)
        return self._queue_and_send(
            history, KIND_FAILURE, _clean_list(recipients), lambda: render_failure_alert(history, settings)
        )

    def _queue_and_send(
        self, history: ExportHistory, kind: str, recipients: list[str], render: Callable[[], Any]
    ) -> list[dict]:
        """Queue one `kind` mail of the run (rendered only when somebody receives it), commit,
        send it now and report per recipient."""
        if recipients:
            enqueue(
                business_id=history.business_id,
                history_id=history.id,
                kind=kind,
                recipients=recipients,
                content=render(),
                key_parts=(kind, history.id),
            )
        db.session.commit()
        return self._send_and_report(history.id, kind)

    def _send_and_report(self, history_id: uuid.UUID, kind: str) -> list[dict]:
        send_rows(_pending_ids(utcnow(), history_id=history_id))
        sync_history_delivery(history_id)
        rows = db.session.scalars(
            select(MailMessage)
            .where(MailMessage.history_id == history_id, MailMessage.kind == kind)
            .execution_options(populate_existing=True)
        ).all()
        return [
            {"email": r.recipient, "accepted": r.status == MAIL_SENT, "error": _describe_row(r)} for r in rows
        ]

    def _get_notification_settings(self, business: Business) -> ExportNotificationSettings:
        return notification_settings(business)

    @staticmethod
    def _get_content_type(export_format: str) -> str:
        return CONTENT_TYPES.get(export_format, "application/octet-stream")
