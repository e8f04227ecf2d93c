"""Sharing the export workers between businesses, enforced in the database (CONTRACT section 6).

Three rules, each holding across every process and host that shares the database:

1. Concurrency cap. At most ``EXPORT_MAX_CONCURRENT_PER_BUSINESS`` runs of one business are
   PROCESSING at once. The run claim (PENDING -> PROCESSING, `claim_run`) is one conditional
   UPDATE whose WHERE counts the business's PROCESSING runs: on SQLite a write statement holds
   the database's single write lock from its first read, so the count and the flip are atomic;
   on PostgreSQL (READ COMMITTED, where two claims could each count the other's row as not yet
   there) the claim first takes a transaction-scoped advisory lock for the business, so claims of
   one business are serialised and the UPDATE's snapshot, taken after the lock, sees the previous
   claim. A run whose heartbeat is older than ``EXPORT_STALE_SECONDS`` does not hold a slot (its
   worker is presumed dead; stale recovery fails it).
2. Fair dispatch. `dispatch_order` picks what free workers take next: scheduled runs before
   one-off work, then each business's queue in turns (its 1st waiting run, then its 2nd, ...), a
   business whose last run started longest ago first; a business at its cap offers nothing. A
   process submits to its pool only as many runs as it has free workers, so waiting happens in the
   database, where every process sees it, never in one process's in-memory queue.
3. Queue cap. At most ``EXPORT_MAX_QUEUED_PER_BUSINESS`` PENDING runs that people or the API
   started (trigger, rerun, one-off export). `admit` runs in the transaction that creates the run,
   after its row is flushed: over the cap the transaction is rolled back (nothing is created,
   not even the audit entry) and `QueueFull` becomes a 429 with ``Retry-After``. The scheduler's
   own runs (occurrences and their retries, trigger SCHEDULED) are never refused and not counted:
   a scheduled occurrence always runs, exactly once, however full the queue is.

A value of 0 (or less) turns a cap off.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, select, text, update
from sqlalchemy.engine import Connection

from dashboard.extensions import db
from dashboard.models.automation import (
    STATUS_PENDING,
    STATUS_PROCESSING,
    SUCCESS_STATUSES,
    ExportHistory,
)

__all__ = ["QueueFull", "admit", "claim_run", "dispatch_order", "max_concurrent", "max_queued"]

TRIGGER_SCHEDULED = "SCHEDULED"
# Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)): one per rule, so that
# a claim never waits on a request queueing a run.
_LOCK_CLAIM = 0x45585001
_LOCK_QUEUE = 0x45585002
_HISTORY = ExportHistory.__table__


class QueueFull(Exception):
    """The business already has its maximum of waiting runs: answered 429 with Retry-After."""

    def __init__(self, limit: int, retry_after: int):
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(
            f"This business already has {limit} exports waiting to run, the most it may queue. "
            f"Wait for some of them to finish (about {retry_after} s) and try again."
        )


def max_concurrent() -> int:
    return int(current_app.config.get("EXPORT_MAX_CONCURRENT_PER_BUSINESS", 1) or 0)


def max_queued() -> int:
    return int(current_app.config.get("EXPORT_MAX_QUEUED_PER_BUSINESS", 20) or 0)


def _fresh_since(now: datetime) -> datetime:
    return now - timedelta(seconds=float(current_app.config.get("EXPORT_STALE_SECONDS", 1800)))


def _alive(table, since: datetime):
    """A PROCESSING row that still holds a slot: its worker gave a sign of life recently."""
    return (table.c.status == STATUS_PROCESSING) & (
        func.coalesce(table.c.heartbeat_at, table.c.started_at, table.c.created_at) >= since
    )


def _advisory_lock(connection: Connection, lock_class: int, business_key) -> None:
    """PostgreSQL: serialise this transaction with others of the same class and business."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:class_id, hashtext(CAST(:business AS text)))"),
        {"class_id": lock_class, "business": str(business_key)},
    )


# ---- 1. the run claim ----------------------------------------------------------------------------


def claim_run(connection: Connection, history_id: uuid.UUID, values: dict, now: datetime) -> bool:
    """PENDING -> PROCESSING with `values`, only while the business is under its cap; in the
    caller's transaction on `connection`. True when this caller now holds the run."""
    cap = max_concurrent()
    where = [ExportHistory.id == history_id, ExportHistory.status == STATUS_PENDING]
    if cap > 0:
        if connection.dialect.name == "postgresql":
            business_id = connection.execute(
                select(ExportHistory.business_id).where(ExportHistory.id == history_id)
            ).scalar()
            if business_id is None:
                return False
            _advisory_lock(connection, _LOCK_CLAIM, business_id)
        others = _HISTORY.alias("running")
        running = (
            select(func.count())
            .select_from(others)
            .where(others.c.business_id == ExportHistory.business_id, _alive(others, _fresh_since(now)))
            .scalar_subquery()
        )
        where.append(running < cap)
    return connection.execute(update(ExportHistory).where(*where).values(**values)).rowcount == 1


# ---- 2. fair dispatch ----------------------------------------------------------------------------


def dispatch_order(limit: int, now: datetime, created_before: datetime | None = None) -> list[uuid.UUID]:
    """Up to `limit` PENDING run ids in the order free workers should take them (see above).

    One query: the waiting runs numbered per business (scheduled first, then oldest), each
    business's live PROCESSING count, and its last start (an index seek per business:
    ix_export_history_business_started)."""
    cap = max_concurrent()
    waiting = _HISTORY.alias("waiting")
    kind = case((waiting.c.trigger == TRIGGER_SCHEDULED, 0), else_=1)
    queued = (
        select(
            waiting.c.id,
            waiting.c.business_id,
            waiting.c.created_at,
            kind.label("kind"),
            func.row_number()
            .over(partition_by=waiting.c.business_id, order_by=(kind, waiting.c.created_at, waiting.c.id))
            .label("turn"),
        )
        .where(waiting.c.status == STATUS_PENDING, waiting.c.created_at <= (created_before or now))
        .subquery("queued")
    )
    busy_rows = _HISTORY.alias("busy_rows")
    busy = (
        select(busy_rows.c.business_id, func.count().label("running"))
        .where(_alive(busy_rows, _fresh_since(now)))
        .group_by(busy_rows.c.business_id)
        .subquery("busy")
    )
    served = _HISTORY.alias("served")
    last_start = (
        select(func.max(served.c.started_at))
        .where(served.c.business_id == queued.c.business_id)
        .scalar_subquery()
    )
    query = select(queued.c.id).select_from(
        queued.outerjoin(busy, busy.c.business_id == queued.c.business_id)
    )
    if cap > 0:
        query = query.where(queued.c.turn + func.coalesce(busy.c.running, 0) <= cap)
    query = query.order_by(
        queued.c.kind,
        queued.c.turn,
        last_start.asc().nulls_first(),
        queued.c.created_at,
        queued.c.id,
    ).limit(limit)
    rows = db.session.execute(query).scalars().all()
    db.session.rollback()  # no transaction held between dispatches
    return list(rows)


# ---- 3. the queue cap ----------------------------------------------------------------------------


def admit(business_id: uuid.UUID, trigger: str) -> None:
    """Call in the session's transaction right after the new PENDING run was flushed: raises
    `QueueFull` (the transaction rolled back) when it would make one too many waiting."""
    cap = max_queued()
    if cap <= 0 or trigger == TRIGGER_SCHEDULED:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # SQLite needs no lock: the flushed INSERT already holds the database's write lock.
        _advisory_lock(connection, _LOCK_QUEUE, business_id)
    waiting = db.session.execute(
        select(func.count())
        .select_from(ExportHistory)
        .where(
            ExportHistory.business_id == business_id,
            ExportHistory.status == STATUS_PENDING,
            ExportHistory.trigger != TRIGGER_SCHEDULED,
        )
    ).scalar_one()
    if waiting <= cap:
        return
    retry_after = _retry_after(business_id)
    db.session.rollback()
    raise QueueFull(cap, retry_after)


def _retry_after(business_id: uuid.UUID) -> int:
    """Seconds until a place in the queue is likely to free: the business's recent run time
    divided by the runs it may have going at once (2 s to 10 min; 30 s without history)."""
    recent = (
        select(ExportHistory.started_at, ExportHistory.completed_at)
        .where(
            ExportHistory.business_id == business_id,
            ExportHistory.status.in_(SUCCESS_STATUSES),
            ExportHistory.started_at.is_not(None),
            ExportHistory.completed_at.is_not(None),
        )
        .order_by(ExportHistory.created_at.desc())
        .limit(10)
    )
    durations = [(done - started).total_seconds() for started, done in db.session.execute(recent)]
    if not durations:
        return 30
    average = sum(durations) / len(durations)
    return int(min(600, max(2, round(average / max(1, max_concurrent())))))
