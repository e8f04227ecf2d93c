"""Executing one run under its fence: the run claim, the export, the stored file, the final write.

Whoever executes a PENDING row first flips it to PROCESSING with a fresh ``claim_token``
(``WHERE status='PENDING'``, and the business's concurrency cap: `fairness.claim_run`). Every later
write of that run (heartbeat, progress, the final COMPLETED/FAILED) is ``WHERE id=:id AND
claim_token=:token AND status='PROCESSING'`` (`run_writes.fence`): a worker that lost its claim
(declared stale while paused, say) gets rowcount 0, stops (`ClaimLost`), deletes the file it may
have stored and sends no mail.

No transaction is held open while an export works (a SQLite writer would block everybody): the
writes of a running export go through their own short transactions (`run_writes.write`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from dashboard import delivery
from dashboard.automation.failures import STEP_EXPORT, STEP_STORE, categorize, describe_error
from dashboard.automation.run_writes import ClaimLost, claim_run, config, fence, retry_time, retryable, write
from dashboard.extensions import db
from dashboard.models.automation import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_PROCESSING,
    ExportHistory,
    ExportRunFile,
    ExportSchedule,
    formats_of,
)
from dashboard.models.pos import Business
from dashboard.models.types import utcnow
from dashboard.ops import metrics
from dashboard.storage import get_storage
from dashboard.storage.protection import protected_output

log = logging.getLogger(__name__)

__all__ = ["deliver", "remove_abandoned_work_dirs", "run_history", "work_dir_root"]

HEARTBEAT_MAX_INTERVAL = 2.0  # seconds between progress writes, at most

WORK_DIR_PREFIX = "export-run-"
WORK_DIR_MAX_AGE = timedelta(hours=6)


def work_dir_root() -> str:
    """Where exports are written before they are stored (``EXPORT_WORK_DIR``, default the
    system's temporary folder)."""
    return str(config("EXPORT_WORK_DIR") or tempfile.gettempdir())


def remove_abandoned_work_dirs(max_age: timedelta = WORK_DIR_MAX_AGE) -> int:
    """Delete work folders of runs killed mid-export (a normal run removes its own)."""
    root = work_dir_root()
    limit = time.time() - max_age.total_seconds()
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for entry in entries:
        try:
            if (
                entry.name.startswith(WORK_DIR_PREFIX)
                and entry.is_dir(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < limit
            ):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


@dataclass
class _RunInfo:
    history_id: uuid.UUID
    business: Business
    export_type: str
    fmt: str
    formats: list[str]
    trigger: str
    attempt: int
    created_at: datetime
    filters: dict
    timezone: str
    owner_view: bool = True  # made for an owner (else owner-only audit details are left out)
    conditions: dict | None = None  # the schedule's: send only when they hold (exports/conditions.py)


def _made_for_an_owner(history: ExportHistory, schedule: ExportSchedule | None) -> bool:
    """Whether the person a run is made for (who started it, else whoever made its schedule) is an
    owner of its business now. Only the Audit Logs export differs by it (owner-only details)."""
    if history.export_type != "AUDIT_LOGS":
        return True
    from dashboard.tenancy import is_owner_of

    requester = history.user_id or (schedule.created_by_id if schedule is not None else None)
    return is_owner_of(history.business_id, requester)


class _Run:
    """One execution of one history row by the worker that claimed it."""

    def __init__(self, history_id: uuid.UUID, token: str):
        self.history_id = history_id
        self.token = token
        stale = float(config("EXPORT_STALE_SECONDS", 1800))
        # Beat often enough that a healthy run is never taken for a stale one, rarely enough that
        # the database does not notice: every 2 s, or faster when the stale time is tiny (tests).
        self.beat_interval = min(HEARTBEAT_MAX_INTERVAL, max(0.05, stale / 4))
        self._last_beat = time.monotonic()

    # -- fenced writes ---------------------------------------------------------------------------
    def fenced(self, **values: Any) -> bool:
        return write(fence(self.history_id, self.token).values(**values)) == 1

    def beat(self, progress: int | None = None) -> None:
        """Heartbeat (and progress); raises ClaimLost when the claim was taken away."""
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if progress is not None:
            values["progress"] = int(progress)
        try:
            ok = self.fenced(**values)
        except (OperationalError, DBAPIError) as exc:
            # A heartbeat that cannot be written is not a reason to abandon a long export: the
            # final write is the real fence. Keep going and try again at the next beat.
            log.warning("run %s: heartbeat not written (%s)", self.history_id, exc.__class__.__name__)
            return
        self._last_beat = time.monotonic()
        if not ok:
            raise ClaimLost(f"run {self.history_id} was taken away from this worker")

    def progress(self, records: int) -> None:
        """The exporter's progress callback (every ~1,000 rows): heartbeat, progress and fence."""
        if time.monotonic() - self._last_beat >= self.beat_interval:
            self.beat(records)

    # -- the run ---------------------------------------------------------------------------------
    def load(self) -> _RunInfo | None:
        history = db.session.get(ExportHistory, self.history_id)
        if history is None:
            return None
        schedule = history.schedule
        business = history.business
        info = _RunInfo(
            history_id=history.id,
            business=business,
            export_type=history.export_type,
            fmt=history.format,
            formats=formats_of(history),
            trigger=history.trigger,
            attempt=history.attempt or 1,
            created_at=history.created_at,
            filters=dict(history.filters_applied or {}),
            timezone=(schedule.timezone if schedule is not None and schedule.timezone else business.timezone)
            or "UTC",
            owner_view=_made_for_an_owner(history, schedule),
            conditions=dict(schedule.conditions or {}) if schedule is not None else None,
        )
        # Detach the business with its columns loaded: the exporter reads it during the long work,
        # and a lazy reload then would leave this session idle in a transaction for the whole
        # export (on PostgreSQL that holds up migrations).
        for column in ("id", "name", "timezone", "currency"):
            getattr(business, column)
        db.session.expunge(business)
        return info

    def execute(self) -> str | None:
        """Run the export; the final status written, or None when this worker lost the run."""
        from dashboard.exports.filters import filters_for_rerun, resolve_filters

        stored: list[str] = []  # stored files not yet recorded: deleted if the run does not finish
        workdir: str | None = None
        info: _RunInfo | None = None
        storage = None
        began = time.monotonic()
        step: str | None = None  # where an exception came from, for its failure category
        try:
            info = self.load()
            if info is None:
                return None  # deleted meanwhile (its business was deleted)
            started = utcnow()
            # Reruns and retries carry resolved dates: pin them so the same period runs again.
            pinned = filters_for_rerun(info.filters)
            resolved = resolve_filters(info.export_type, pinned, info.timezone, started)
            if info.filters.get("date_range") and "date_range" not in resolved:
                resolved["date_range"] = info.filters["date_range"]
            # Record the period before the work starts, so that a retry covers the same one.
            if not self.fenced(filters_applied=resolved, heartbeat_at=utcnow()):
                raise ClaimLost(f"run {self.history_id} was taken away before it started")
            db.session.rollback()  # end the read transaction before the long work

            from dashboard.exports.conditions import unmet_reason
            from dashboard.exports.service import generate_export

            workdir = tempfile.mkdtemp(prefix=f"{WORK_DIR_PREFIX}{self.history_id}-", dir=work_dir_root())
            storage = get_storage()
            files: list[dict[str, Any]] = []
            first = None
            for position, fmt in enumerate(info.formats):
                step = STEP_EXPORT
                result = generate_export(
                    info.business,
                    info.export_type,
                    fmt,
                    filters_for_rerun(resolved),
                    now=started,
                    progress=self.progress,
                    out_dir=workdir,
                    pdf_max_rows=config("PDF_MAX_ROWS"),
                    owner_view=info.owner_view,
                )
                db.session.rollback()  # the exporter's reads are over
                self.beat(result.record_count)  # still ours? (cheap, and saves a pointless upload)

                step = STEP_STORE
                # A schedule with a file password stores each file as an AES-256 zip (issue 19).
                out_path, out_name, out_size = protected_output(
                    self.history_id, result.path, result.file_name
                )
                stored.append(
                    storage.save_export_file(
                        out_path,
                        out_name,
                        info.business.id,
                        self.history_id,
                        created_at=info.created_at,
                        content_type="application/zip"
                        if out_size is not None
                        else getattr(result, "content_type", None),
                    )
                )
                step = None
                files.append(
                    {
                        "history_id": self.history_id,
                        "business_id": info.business.id,
                        "format": fmt,
                        "position": position,
                        "file_name": out_name,
                        "file_size": int(out_size if out_size is not None else result.size),
                        "file_path": stored[-1],
                    }
                )
                if first is None:
                    first = result
            applied = dict(getattr(first, "filters_applied", None) or resolved)
            if resolved.get("date_range") and "date_range" not in applied:
                applied["date_range"] = resolved["date_range"]
            completed = dict(
                status=STATUS_COMPLETED,
                file_name=files[0]["file_name"],
                file_path=files[0]["file_path"],
                file_size=files[0]["file_size"],
                record_count=int(first.record_count),
                total_records=first.total_records,
                truncated=bool(first.truncated),
                filters_applied=applied,
                # Issue 18 items 3-4 (dashboard/exports/conditions.py, comparison.py).
                summary=dict(getattr(first, "summary", None) or {}),
                skipped_reason=unmet_reason(info.conditions, int(first.record_count), first.summary),
                progress=int(first.record_count),
                completed_at=utcnow(),
                claim_token=None,
                next_retry_at=None,
                error_message="",
                error_traceback="",
            )
            if not self._final_write(completed, files):
                raise ClaimLost(f"run {self.history_id} was taken away before it finished")
            stored = []  # recorded: from now on the files belong to the record
            metrics.record_run(
                STATUS_COMPLETED, info.export_type, info.fmt, info.trigger, time.monotonic() - began
            )
            log.info(
                "run %s completed",
                self.history_id,
                extra={
                    "records": int(first.record_count),
                    "file_size": sum(f["file_size"] for f in files),
                    "files": len(files),
                },
            )
            return STATUS_COMPLETED
        except ClaimLost as exc:
            log.warning("%s; its results are discarded", exc)
            return None
        except Exception as exc:
            log.exception("run %s failed", self.history_id)
            finished = utcnow()
            retry_at = None
            if info is not None:
                retry_at = retry_time(info.trigger, info.attempt, finished)
            failed = dict(
                status=STATUS_FAILED,
                error_message=describe_error(exc),
                failure_category=categorize(exc, step),
                error_traceback=traceback.format_exc()[-20000:],
                completed_at=finished,
                claim_token=None,
                next_retry_at=retry_at,
            )
            try:
                ok = self.fenced(**failed)
            except Exception:
                log.exception(
                    "run %s: the failure could not be recorded; stale recovery will", self.history_id
                )
                return None
            if ok and info is not None:
                metrics.record_run(
                    STATUS_FAILED, info.export_type, info.fmt, info.trigger, time.monotonic() - began
                )
            return STATUS_FAILED if ok else None
        finally:
            db.session.rollback()
            for path in stored:
                # Stored but not recorded (claim lost, or the final write failed): not a result.
                try:
                    storage.delete_export_file(path)
                except Exception:
                    log.exception("run %s: could not delete unrecorded file %s", self.history_id, path)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    def _final_write(self, values: dict, files: list[dict[str, Any]]) -> bool:
        """The COMPLETED write and the run's files, in one transaction under the fence; retried
        once on a dropped connection, like `run_writes.write` (a retry that finds the claim gone
        asks whether the first attempt landed)."""
        first_path = files[0]["file_path"]
        for attempt in range(2):
            try:
                with db.engine.begin() as connection:
                    if connection.execute(fence(self.history_id, self.token).values(**values)).rowcount == 1:
                        connection.execute(insert(ExportRunFile), files)
                        return True
                return self._landed(first_path)
            except (OperationalError, DBAPIError) as exc:
                # Did it land before the connection broke? Then the files are the record's.
                if self._landed(first_path):
                    return True
                if attempt or not retryable(exc):
                    raise
                log.warning(
                    "run %s: final write failed (%s); retrying once", self.history_id, type(exc).__name__
                )
                time.sleep(0.2)
        return False  # pragma: no cover

    def _landed(self, stored_path: str) -> bool:
        try:
            with db.engine.connect() as connection:
                row = connection.execute(
                    select(ExportHistory.status, ExportHistory.file_path).where(
                        ExportHistory.id == self.history_id
                    )
                ).first()
        except (OperationalError, DBAPIError):
            return False
        return row is not None and row.status == STATUS_COMPLETED and row.file_path == stored_path


def run_history(history_id: uuid.UUID) -> str | None:
    """Claim a PENDING run and execute it here; its final status, or None when another worker
    has it (or had it), or its business is at its concurrency cap."""
    token = str(uuid.uuid4())
    now = utcnow()
    values = dict(
        status=STATUS_PROCESSING,
        claim_token=token,
        started_at=now,
        heartbeat_at=now,
        progress=0,
        completed_at=None,
    )
    if not claim_run(history_id, values, now):
        return None
    status = _Run(history_id, token).execute()
    if status is not None:
        deliver(history_id)
    return status


def deliver(history_id: uuid.UUID) -> None:
    """Queue and send a finished run's mails; a failed mail never fails a finished export (the
    outbox retries what it queued)."""
    try:
        delivery.deliver_run_result(history_id)
    except Exception:
        log.exception("run %s: mail delivery failed", history_id)
    finally:
        db.session.rollback()
