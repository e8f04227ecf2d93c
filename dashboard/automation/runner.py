"""The runner: claims due schedules, runs exports exactly once, fences, retries and recovers.

This module is the runner's face for the scheduler jobs (`jobs`) and the run services
(`dashboard.services.runs`); each job lives in its own module:

- `claiming`: each due occurrence of a schedule becomes exactly one PENDING run (a compare-and-set
  on ``next_run_at``; on PostgreSQL a batch in one statement);
- `dispatch`: PENDING runs handed to this process's free workers, in fair order (`fairness`);
- `execution`: one run under its fence (the run claim, the export, the stored file, the final
  write), then its mails (`delivery`);
- `recovery`: stale runs, retries of failed scheduled runs, the hand-back of a stopping worker;
- `history_rows`: the one function that builds a run's history row.

Exactly once, whatever the number of processes or hosts polling one database (SQLite or
PostgreSQL), rests on two compare-and-set UPDATEs (the occurrence claim and the run claim) and two
unique constraints (``(schedule_id, occurrence_at)`` and ``retry_of_id``).
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from datetime import datetime

from flask import current_app
from sqlalchemy import update
from sqlalchemy.engine import Connection

from dashboard.automation import claiming, dispatch, fairness, recovery
from dashboard.automation.claiming import POLL_COLUMNS
from dashboard.automation.execution import remove_abandoned_work_dirs, run_history, work_dir_root
from dashboard.automation.failures import describe_error
from dashboard.automation.history_rows import history_row
from dashboard.automation.recovery import INTERRUPTED_MESSAGE, NEVER_STARTED_MESSAGE
from dashboard.automation.run_writes import ClaimLost, retry_delay_seconds, retry_time
from dashboard.extensions import db
from dashboard.models.automation import TRIGGER_SCHEDULED, ExportHistory, ExportSchedule
from dashboard.models.pos import User
from dashboard.models.types import utcnow

__all__ = [
    "INTERRUPTED_MESSAGE",
    "NEVER_STARTED_MESSAGE",
    "POLL_COLUMNS",
    "ClaimLost",
    "ScheduledExportRunner",
    "describe_error",
    "remove_abandoned_work_dirs",
    "retry_delay_seconds",
    "touch_last_run",
    "work_dir_root",
]


def touch_last_run(schedule_id: uuid.UUID | None, now: datetime) -> None:
    """A schedule's ``last_run_at`` (in the session's transaction); ``updated_at`` kept: it says
    when a person last changed the schedule."""
    if schedule_id is None:
        return
    db.session.execute(
        update(ExportSchedule)
        .where(ExportSchedule.id == schedule_id)
        .values(last_run_at=now, updated_at=ExportSchedule.updated_at)
        .execution_options(synchronize_session=False)
    )


class ScheduledExportRunner:
    """The runner's jobs, as the scheduler and the run services call them."""

    def run_due_schedules(self, now: datetime | None = None, *, wait: bool = False) -> dict:
        """Claim every due occurrence and start runs on the worker pool.

        Returns the summary figures: ``due`` (seen due), ``claimed`` (occurrences this process
        claimed), ``lost`` (claimed by another process first), ``invalid`` (timing could not be
        computed), ``started`` (runs handed to workers here). With `wait` (the CLI) it keeps
        dispatching until nothing claimable is left and waits for the runs, adding ``completed``,
        ``failed`` and ``not_ours`` (runs another process took first).
        """
        now = now or utcnow()
        summary = claiming.claim_due_schedules(now)
        futures = dispatch.dispatch_pending(chain=not wait)
        summary["started"] = len(futures)
        if wait:
            outcome = dispatch.wait_and_dispatch(futures)
            summary["started"] = outcome.pop("started")
            summary.update(outcome)
        return summary

    def claim_due_schedules(self, now: datetime | None = None) -> dict:
        """Claim due occurrences (PENDING rows); no export runs here."""
        return claiming.claim_due_schedules(now)

    def _claim_one(self, connection: Connection, row, now: datetime) -> str:
        return claiming.claim_one(connection, row, now)

    def dispatch_pending(self, **options) -> list[Future]:
        """Hand PENDING runs to this process's free workers (`dispatch.dispatch_pending`)."""
        return dispatch.dispatch_pending(**options)

    def submit(self, history_id: uuid.UUID, *, chain: bool = False) -> Future:
        return dispatch.submit(history_id, chain=chain)

    def run_history(self, history_id: uuid.UUID) -> str | None:
        """Claim a PENDING run and execute it here; its final status, or None when another
        worker has it (or had it)."""
        return run_history(history_id)

    def execute_schedule(
        self,
        schedule: ExportSchedule,
        trigger: str = TRIGGER_SCHEDULED,
        *,
        user: User | None = None,
        send_email: bool = True,
        override_recipients: list[str] | None = None,
        occurrence_at: datetime | None = None,
    ) -> ExportHistory:
        """Run one schedule now, in this thread, and return its finished history record.

        Sets ``last_run_at``; ``next_run_at`` is moved only by the occurrence claim
        (`run_due_schedules`). `occurrence_at` ties a SCHEDULED run to its occurrence (unique)."""
        history = ExportHistory(
            **history_row(
                business_id=schedule.business_id,
                export_type=schedule.export_type,
                fmt=schedule.format,
                formats=schedule.formats,
                trigger=trigger,
                filters=schedule.filters,
                schedule_id=schedule.id,
                schedule_name=schedule.name,
                user_id=user.id if user is not None else None,
                send_email=send_email,
                override_recipients=override_recipients,
                occurrence_at=occurrence_at,
            )
        )
        db.session.add(history)
        touch_last_run(schedule.id, history.created_at)
        db.session.flush()
        fairness.admit(history.business_id, trigger)
        db.session.commit()
        with current_app.app_context():  # a worker's own session, as on the pool
            try:
                run_history(history.id)
            finally:
                db.session.remove()
        db.session.refresh(history)
        return history

    @staticmethod
    def retry_time(trigger: str, attempt: int, failed_at: datetime) -> datetime | None:
        """When a failed run should be retried (`run_writes.retry_time`)."""
        return retry_time(trigger, attempt, failed_at)

    def retry_failed_exports(self, now: datetime | None = None, *, wait: bool = False) -> dict:
        """Create (and start) the retries that are due (`recovery.retry_failed_exports`)."""
        return recovery.retry_failed_exports(now, wait=wait)

    def recover_stale_runs(self, now: datetime | None = None) -> dict:
        """Fail runs whose worker stopped answering (`recovery.recover_stale_runs`)."""
        return recovery.recover_stale_runs(now)
