"""Recovery: runs whose worker stopped answering, retries of failed scheduled runs, and the
hand-back of runs a stopping worker still holds.

A run left PROCESSING without a heartbeat for ``EXPORT_STALE_SECONDS`` is failed "interrupted"
with its claim cleared, so the lost worker's fenced writes fail. A FAILED scheduled run of the last
24 hours is retried up to ``EXPORT_MAX_RETRIES`` times with exponential backoff; each retry is a new
row with ``retry_of_id`` (unique: each retry happens once across processes) and ``attempt + 1``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from dashboard.automation.dispatch import dispatch_pending, wait_and_dispatch
from dashboard.automation.execution import deliver
from dashboard.automation.history_rows import retry_row
from dashboard.automation.run_writes import config, retry_time, write
from dashboard.extensions import db
from dashboard.models.automation import (
    FAILURE_INTERRUPTED,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_PROCESSING,
    TRIGGER_SCHEDULED,
    ExportHistory,
)
from dashboard.models.types import utcnow
from dashboard.ops import metrics

log = logging.getLogger(__name__)

__all__ = [
    "INTERRUPTED_MESSAGE",
    "NEVER_STARTED_MESSAGE",
    "hand_back",
    "recover_stale_runs",
    "retry_failed_exports",
]

INTERRUPTED_MESSAGE = "The export was interrupted (the worker stopped responding)."
NEVER_STARTED_MESSAGE = "The export was never started (the process that queued it stopped)."
RETRY_WINDOW = timedelta(hours=24)


def retry_failed_exports(now: datetime | None = None, *, wait: bool = False) -> dict:
    """Create (and start) the retries that are due: FAILED scheduled runs of the last 24
    hours whose ``next_retry_at`` has passed, within ``EXPORT_MAX_RETRIES``, not retried
    yet. The unique ``retry_of_id`` makes each retry happen once across processes.
    A run whose schedule was deleted or deactivated meanwhile is not retried."""
    now = now or utcnow()
    max_retries = int(config("EXPORT_MAX_RETRIES", 3))
    summary = {"candidates": 0, "retried": 0, "skipped": 0, "already_retried": 0}
    retries = ExportHistory.__table__.alias("retries")
    has_retry = select(retries.c.id).where(retries.c.retry_of_id == ExportHistory.id).exists()
    rows = db.session.execute(
        select(ExportHistory.id)
        .where(
            ExportHistory.status == STATUS_FAILED,
            ExportHistory.next_retry_at <= now,
            ExportHistory.created_at >= now - RETRY_WINDOW,
            ExportHistory.attempt <= max_retries,
            ~has_retry,
        )
        .order_by(ExportHistory.next_retry_at)
        .limit(1000)
    ).all()
    db.session.rollback()
    new_ids: list[uuid.UUID] = []
    for (failed_id,) in rows:
        summary["candidates"] += 1
        failed = db.session.get(ExportHistory, failed_id)
        if failed is None:
            continue
        schedule = failed.schedule
        if failed.trigger == TRIGGER_SCHEDULED and (schedule is None or not schedule.is_active):
            db.session.execute(
                update(ExportHistory)
                .where(ExportHistory.id == failed_id)
                .values(next_retry_at=None)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            summary["skipped"] += 1
            continue
        retry = ExportHistory(**retry_row(failed))
        db.session.add(retry)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            summary["already_retried"] += 1
            continue
        summary["retried"] += 1
        new_ids.append(retry.id)
    if new_ids:
        log.info("retrying %s failed exports", len(new_ids))
    futures = dispatch_pending(chain=not wait)
    summary["started"] = len(futures)
    if wait:
        outcome = wait_and_dispatch(futures)
        summary["started"] = outcome.pop("started")
        summary.update(outcome)
    return summary


def recover_stale_runs(now: datetime | None = None) -> dict:
    """Fail runs whose worker stopped answering, so they are retried and never stay stuck.

    PROCESSING with no heartbeat for ``EXPORT_STALE_SECONDS``: FAILED "interrupted", claim
    cleared (the lost worker's fenced writes then fail), ``next_retry_at`` set for scheduled
    runs. PENDING runs are never failed, however old: they wait their turn and are dispatched
    again by `dispatch_pending` (``pending_expired`` stays 0, for the summary's readers)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=float(config("EXPORT_STALE_SECONDS", 1800)))
    last_sign = func.coalesce(ExportHistory.heartbeat_at, ExportHistory.started_at, ExportHistory.created_at)
    summary = {"stale_failed": 0, "pending_expired": 0}
    rows = db.session.execute(
        select(ExportHistory.id, ExportHistory.trigger, ExportHistory.attempt, ExportHistory.claim_token)
        .where(ExportHistory.status == STATUS_PROCESSING, last_sign < cutoff)
        .limit(1000)
    ).all()
    db.session.rollback()
    finished: list[uuid.UUID] = []
    for row in rows:
        token_match = (
            ExportHistory.claim_token.is_(None)
            if row.claim_token is None
            else ExportHistory.claim_token == row.claim_token
        )
        changed = write(
            update(ExportHistory)
            .where(
                ExportHistory.id == row.id,
                ExportHistory.status == STATUS_PROCESSING,
                token_match,
                last_sign < cutoff,  # re-checked atomically: a fresh heartbeat wins
            )
            .values(
                status=STATUS_FAILED,
                error_message=INTERRUPTED_MESSAGE,
                failure_category=FAILURE_INTERRUPTED,
                error_traceback="",
                completed_at=now,
                claim_token=None,
                next_retry_at=retry_time(row.trigger, row.attempt or 1, now),
            )
        )
        if changed:
            summary["stale_failed"] += 1
            finished.append(row.id)
    metrics.record_stale("interrupted", summary["stale_failed"])
    for history_id in finished:
        deliver(history_id)
    if finished:
        log.warning(
            "recovered %(stale_failed)s stale runs and %(pending_expired)s never-started runs", summary
        )
    return summary


def hand_back(history_ids: Iterable[uuid.UUID]) -> int:
    """Put runs this worker is still executing back to PENDING, claim cleared (a stopping gunicorn
    worker, `gunicorn.conf.py`): any poller on any host starts them again at its next poll. The
    claim token changes, so the threads still running them here can no longer write to them (their
    fenced writes fail) nor send their mail. The number of runs handed back."""
    ids = list(history_ids)
    if not ids:
        return 0
    with db.engine.begin() as connection:
        result = connection.execute(
            update(ExportHistory)
            .where(ExportHistory.id.in_(ids), ExportHistory.status == STATUS_PROCESSING)
            .values(
                status=STATUS_PENDING,
                claim_token=None,
                started_at=None,
                heartbeat_at=None,
                progress=0,
            )
        )
    return result.rowcount or 0
