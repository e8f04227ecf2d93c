"""The daily mail quota of a business (MAIL_DAILY_LIMIT_PER_BUSINESS, contract section 6).

A business sends at most `limit` messages in any rolling 24 hours, counted per recipient: each
outbox row takes one slot when it is first handed to the mail server (`counted_at`), whatever the
server answers, and keeps it through its retries. A row that finds no free slot is HELD: it stays
`pending`, says why in `held_reason`, and waits (`next_attempt_at`) until the oldest slot of the
window frees; the next outbox pass after that sends it. Nothing is dropped.

The slot is taken by the same conditional UPDATE that claims the row for sending, with the count of
the window in its WHERE clause, so two processes never both take the last slot: on PostgreSQL a
transaction-scoped advisory lock per business serialises those claims (READ COMMITTED would let two
statements each see 199 of 200); on SQLite the database's single writer does.

Not counted and never held (so that owners always hear what matters): the quota notice itself
(one per business per 24 h, to its active owners) and failure alerts addressed to an active owner.
Everything else counts: export mails, test sends, success notices, weekly summaries, and failure
alerts to other addresses.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import aliased

from dashboard.delivery.outbox import KIND_FAILURE, KIND_QUOTA
from dashboard.extensions import db
from dashboard.models.automation import MAIL_PENDING, MAIL_SENDING, MailMessage
from dashboard.models.pos import ROLE_OWNER, Membership, User

WINDOW = timedelta(hours=24)
DEFAULT_DAILY_LIMIT = 200


def daily_limit() -> int:
    """MAIL_DAILY_LIMIT_PER_BUSINESS; 0 (or less) turns the quota off."""
    value = current_app.config.get("MAIL_DAILY_LIMIT_PER_BUSINESS")
    return DEFAULT_DAILY_LIMIT if value is None or value == "" else int(value)


def owner_addresses(business_id: uuid.UUID) -> set[str]:
    """Lower-case addresses of the business's active owners."""
    rows = db.session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.business_id == business_id,
            Membership.role == ROLE_OWNER,
            Membership.is_active.is_(True),
            User.is_active_user.is_(True),
        )
    )
    return {email.lower() for email in rows}


class Quota:
    """One outbox pass's view of the quota: caches owners and businesses found full."""

    def __init__(self) -> None:
        self.limit = daily_limit()
        self._owners: dict[uuid.UUID, set[str]] = {}
        self.full_until: dict[uuid.UUID, datetime] = {}
        self.held: dict[uuid.UUID, int] = {}

    def counts(self, row: MailMessage) -> bool:
        """Whether sending this row takes a slot (it has none yet and is not exempt)."""
        if self.limit <= 0 or row.counted_at is not None or row.kind == KIND_QUOTA:
            return False
        if row.kind == KIND_FAILURE:
            owners = self._owners.get(row.business_id)
            if owners is None:
                owners = self._owners[row.business_id] = owner_addresses(row.business_id)
            if row.recipient.lower() in owners:
                return False
        return True

    def window_condition(self, business_id: uuid.UUID, now: datetime):
        """SQL: the business still has a free slot in the window ending `now`."""
        counted = aliased(MailMessage)
        used = (
            select(func.count(counted.id))
            .where(counted.business_id == business_id, counted.counted_at > now - WINDOW)
            .scalar_subquery()
        )
        return used < self.limit

    @staticmethod
    def lock(business_id: uuid.UUID) -> None:
        """PostgreSQL: hold the business's quota lock until this transaction ends."""
        if db.session.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(business_id.bytes[:8], "big", signed=True)
            db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def free_at(self, business_id: uuid.UUID, now: datetime) -> datetime:
        """When the oldest slot of the window frees (a minute from now if none is taken)."""
        oldest = db.session.scalar(
            select(func.min(MailMessage.counted_at)).where(
                MailMessage.business_id == business_id, MailMessage.counted_at > now - WINDOW
            )
        )
        if oldest is None:
            return now + timedelta(minutes=1)
        return max(oldest + WINDOW + timedelta(seconds=1), now + timedelta(seconds=1))

    def hold(self, row: MailMessage, until: datetime, reason: str) -> bool:
        """Leave the row pending until `until`, saying why; attempts unchanged."""
        result = db.session.execute(
            update(MailMessage)
            .where(
                MailMessage.id == row.id,
                MailMessage.status.in_((MAIL_PENDING, MAIL_SENDING)),
                MailMessage.attempts == (row.attempts or 0),
                MailMessage.counted_at.is_(None),
            )
            .values(status=MAIL_PENDING, next_attempt_at=until, held_reason=reason)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if result.rowcount == 1:
            self.held[row.business_id] = self.held.get(row.business_id, 0) + 1
            return True
        return False


def held_count(business_id: uuid.UUID) -> int:
    return int(
        db.session.scalar(
            select(func.count(MailMessage.id)).where(
                MailMessage.business_id == business_id,
                MailMessage.status == MAIL_PENDING,
                MailMessage.held_reason != "",
            )
        )
        or 0
    )


def notice_sent_since(business_id: uuid.UUID, since: datetime) -> bool:
    """Whether the owners were told within the window: one notice per 24 h, not per held mail."""
    found = db.session.scalar(
        select(MailMessage.id)
        .where(
            MailMessage.business_id == business_id,
            MailMessage.kind == KIND_QUOTA,
            MailMessage.created_at > since,
        )
        .limit(1)
    )
    return found is not None


def notice_key(business_id: uuid.UUID, now: datetime) -> tuple:
    """The notice's dedupe key: per business and 24 h bucket, so that two processes holding mail
    at the same moment queue one notice between them."""
    bucket = int(now.timestamp() // WINDOW.total_seconds())
    return (KIND_QUOTA, business_id, bucket)
