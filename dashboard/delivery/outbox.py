"""The outbox: the `mail_messages` table is the queue and the source of truth for every delivery.

A delivery is first written there, one row per (purpose, recipient or target), with a unique
`dedupe_key` (so one run never reaches the same person twice for the same purpose) and, for
e-mail, a Message-ID fixed before the first attempt; it is attempted afterwards. Each row names the
`channel` that carries it ("email", or a channel registered in `channels.py`).

A row moves   pending -> sending -> sent | failed   (or back to pending, with a backoff, after a
transient failure). Every move is a conditional UPDATE on (id, status, attempts), so two processes
never both own a row. A row found in `sending` after its lease (a crash, or a connection that broke
after the whole message had gone out) is not resent at once: only after the lease, with the same
Message-ID, so that a duplicate, if there is one, is recognisable as such.

Nothing here knows how a channel sends: `channels.Channel.send` attempts rows with `claim`,
`record` and `report_outcome`.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update

from dashboard.delivery import mailer
from dashboard.delivery.policy import backoff, give_up_after, sending_lease
from dashboard.extensions import db
from dashboard.logging_setup import log_context
from dashboard.models.automation import (
    MAIL_FAILED,
    MAIL_PENDING,
    MAIL_SENDING,
    MAIL_SENT,
    MailMessage,
)
from dashboard.models.types import utcnow
from dashboard.ops import metrics

if TYPE_CHECKING:
    from dashboard.delivery.quota import Quota
    from dashboard.delivery.render import MailContent

log = logging.getLogger(__name__)

# A row's purpose (its `kind`); its channel is separate (`channel`).
KIND_EXPORT = "export"
KIND_FAILURE = "failure"
KIND_SUCCESS = "success"
KIND_SUMMARY = "summary"
KIND_QUOTA = "quota"  # the notice to owners that their business's mail is held (quota.py)

# A row's outcome after an attempt (the same words as mailer's).
ACCEPTED = mailer.ACCEPTED
TRANSIENT = mailer.TRANSIENT
PERMANENT = mailer.PERMANENT
UNCERTAIN = mailer.UNCERTAIN


class Outcome(Protocol):
    """What one attempt at one row gave: `outcome` is ACCEPTED, TRANSIENT, PERMANENT or UNCERTAIN."""

    outcome: str
    error: str


class Content(Protocol):
    def payload(self, position: int) -> dict: ...


def aware(value: datetime | None) -> datetime:
    if value is None:
        return utcnow()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- queueing


def _message_domain() -> str:
    address = mailer.sender_address()
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


def dedupe_key(*parts: object, recipient: str) -> str:
    key = ":".join(str(p) for p in parts) + ":" + recipient.strip().lower()
    if len(key) > 255:  # a very long address: keep the key unique and within the column
        digest = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()
        key = ":".join(str(p) for p in parts) + ":" + digest
    return key


def key_prefix(key_parts: tuple) -> str:
    """The start every dedupe key of `key_parts` shares (one per recipient follows it)."""
    return ":".join(str(p) for p in key_parts) + ":"


def _insert_ignoring_duplicates(rows: list[dict]) -> int:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING: concurrent callers insert each row once."""
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
            log.info("Delivery %s already queued by another process", row["dedupe_key"])
    return inserted


def enqueue(
    *,
    business_id: uuid.UUID,
    history_id: uuid.UUID | None,
    kind: str,
    recipients: list[str],
    content: MailContent | Content | Callable[[str], MailContent | Content],
    key_parts: tuple,
    now: datetime | None = None,
    channel: str = "email",
) -> int:
    """Queue one row per recipient (not committed). Returns how many rows were new. `content` is
    the same for everybody, or a function of the recipient (members and outsiders read different
    mails)."""
    now = now or utcnow()
    domain = _message_domain()
    content_for = content if callable(content) else (lambda _recipient: content)
    rows = []
    for position, recipient in enumerate(recipients):
        rows.append(
            {
                "id": uuid.uuid4(),
                "business_id": business_id,
                "history_id": history_id,
                "kind": kind,
                "channel": channel,
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
                "payload": content_for(recipient).payload(position),
            }
        )
    return _insert_ignoring_duplicates(rows)


def pending_with_prefix(key_parts: tuple) -> list[uuid.UUID]:
    """The still-pending rows queued under `key_parts` (to send them at once)."""
    return list(
        db.session.scalars(
            select(MailMessage.id).where(
                MailMessage.dedupe_key.startswith(key_prefix(key_parts), autoescape=True),
                MailMessage.status == MAIL_PENDING,
            )
        )
    )


def _due(now: datetime):
    return or_(
        and_(
            MailMessage.status == MAIL_PENDING,
            or_(MailMessage.next_attempt_at.is_(None), MailMessage.next_attempt_at <= now),
        ),
        and_(MailMessage.status == MAIL_SENDING, MailMessage.next_attempt_at <= now),
    )


def pending_ids(
    now: datetime, history_id: uuid.UUID | None = None, limit: int = 500, channel: str | None = None
) -> list[uuid.UUID]:
    """Rows due for an attempt, oldest first (one run's, one channel's, or all)."""
    query = select(MailMessage.id).where(_due(now))
    if history_id is not None:
        query = query.where(MailMessage.history_id == history_id)
    if channel is not None:
        query = query.where(MailMessage.channel == channel)
    return list(db.session.scalars(query.order_by(MailMessage.created_at, MailMessage.id).limit(limit)))


def channels_of(row_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not row_ids:
        return {}
    rows = db.session.execute(select(MailMessage.id, MailMessage.channel).where(MailMessage.id.in_(row_ids)))
    return {row_id: channel or "email" for row_id, channel in rows}


# --------------------------------------------------------------------------- attempts


def load_due(row_id: uuid.UUID, now: datetime) -> MailMessage | None:
    """The row, fresh from the database, if it is still waiting and due; else None."""
    row = db.session.get(MailMessage, row_id, populate_existing=True)
    if row is None or row.status not in (MAIL_PENDING, MAIL_SENDING):
        return None
    due_at = aware(row.next_attempt_at) if row.next_attempt_at else None
    if due_at is not None and due_at > now:
        return None
    return row


def claim(row: MailMessage, now: datetime, quota: Quota | None = None) -> int | None:
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


def unchanged(row_id: uuid.UUID, status: str, attempts: int) -> bool:
    """The row is still as read (so a failed claim was the quota's doing, not another process's)."""
    current = db.session.execute(
        select(MailMessage.status, MailMessage.attempts, MailMessage.counted_at).where(
            MailMessage.id == row_id
        )
    ).first()
    return current is not None and (current[0], current[1]) == (status, attempts) and current[2] is None


def refuse(row: MailMessage, reason: str) -> bool:
    """Fail a row for good without an attempt (it must not be handed over at all)."""
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


def record(row: MailMessage, attempt: int, outcome: Outcome, now: datetime) -> str:
    """Store an attempt's outcome: "sent", "failed", "uncertain" or "retry" (with a backoff)."""
    if outcome.outcome == ACCEPTED:
        _finish(row.id, attempt, status=MAIL_SENT, sent_at=now, next_attempt_at=None, last_error="")
        return "sent"
    if outcome.outcome == PERMANENT:
        _finish(row.id, attempt, status=MAIL_FAILED, next_attempt_at=None, last_error=outcome.error)
        return "failed"
    if outcome.outcome == UNCERTAIN:
        # Stays `sending` until its lease ends; then it is retried with the same Message-ID.
        _finish(row.id, attempt, next_attempt_at=now + sending_lease(), last_error=outcome.error)
        return "uncertain"
    # A held mail's 48 hours start when it is first tried, not when it was queued.
    started = row.counted_at or (now if row.held_reason else row.created_at)
    if now - aware(started) >= give_up_after():
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


def defer(row_ids: list[uuid.UUID], error: str, until: datetime) -> int:
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


def report_outcome(row: MailMessage, attempt: int, recorded: str, outcome: Outcome) -> None:
    """Count the attempt, and say every failure in the log (WARNING, with the run's id): the
    database alone holds the error otherwise, and operators read logs, not rows."""
    if recorded == "failed":
        recorded = "refused" if outcome.outcome == PERMANENT else "given_up"
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


def describe_row(row: MailMessage, tz: ZoneInfo | None = None) -> str | None:
    """A row's state in words for the run's delivery list (None once delivered)."""
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
            local = aware(row.next_attempt_at).astimezone(tz or ZoneInfo("UTC"))
            when = f"{local:%H:%M} {local.tzname()}"
        return f"Not delivered yet: {row.last_error.rstrip('.')}. Trying again at {when}."
    return "Queued for sending."
