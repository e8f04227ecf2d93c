"""The runner: claims due schedules, runs exports exactly once, fences, retries and recovers.

Exactly once, whatever the number of processes or hosts polling one database (SQLite or
PostgreSQL), rests on two compare-and-set UPDATEs and two unique constraints:

1. Occurrence claim. A poller reads due schedules (the ``(is_active, next_run_at)`` index, in
   batches) and, per schedule, in ONE short transaction runs
   ``UPDATE export_schedules SET next_run_at=:next, last_run_at=:now WHERE id=:id AND
   next_run_at=:seen AND is_active`` and inserts the PENDING history row with
   ``occurrence_at=:seen``. Only the poller whose UPDATE changed the row inserts; the unique
   ``(schedule_id, occurrence_at)`` is a second guard. ``:next`` is the first occurrence strictly
   after *now*, so missed occurrences (downtime) coalesce into this one run. On PostgreSQL a
   batch of claims is that same compare-and-set in one statement (`_CLAIM_BATCH`: each row
   locked SKIP LOCKED, moved on and given its run, or left to the next poll).
2. Run claim. Whoever executes a PENDING row first flips it to PROCESSING with a fresh
   ``claim_token`` (``WHERE status='PENDING'``). Every later write of that run (heartbeat,
   progress, the final COMPLETED/FAILED) is ``WHERE id=:id AND claim_token=:token AND
   status='PROCESSING'``: a worker that lost its claim (declared stale while paused, say) gets
   rowcount 0, stops (`ClaimLost`), deletes the file it may have stored and sends no mail.
3. Retries are new rows with ``retry_of_id`` (unique) and ``attempt + 1``.

Runs execute on the worker pool (`executor`). Claimed PENDING rows are handed out by
`dispatch_pending`, at most as many as this process has free workers, so several processes share
the work; a process whose worker finishes picks the next PENDING row itself.

Writes of a running export go through their own short transactions on a separate connection
(``db.engine.begin()``), never through ``db.session``, which the exporter may be streaming rows
from; no transaction is held open by the runner while an export works (a SQLite writer would
block everybody).

Sharing between businesses (`fairness`): the run claim also checks the business's
``EXPORT_MAX_CONCURRENT_PER_BUSINESS`` in the same statement; `dispatch_pending` hands out runs in
fair order (scheduled first, businesses in turns), never more than this process has free workers,
so waiting happens in the database; creating a run that is not the scheduler's checks
``EXPORT_MAX_QUEUED_PER_BUSINESS`` (`fairness.admit`).

PENDING rows that nobody picked up (the process that queued them died before a worker started
them) are dispatched again by any poller: the run claim makes that safe. A PENDING row is never
failed for waiting, however long: with fair dispatch a queue of one business's runs is expected
to wait, and each of them is still what somebody asked for.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, func, insert, or_, select, text, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from dashboard import delivery
from dashboard.automation import executor as executor_module
from dashboard.automation import fairness
from dashboard.automation.calculator import next_occurrence, timing_of
from dashboard.automation.storage import StorageError, get_storage
from dashboard.extensions import db
from dashboard.logging_setup import log_context
from dashboard.models.automation import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_PROCESSING,
    ExportHistory,
    ExportSchedule,
)
from dashboard.models.pos import Business, User
from dashboard.models.types import GUID, UTCDateTime, new_uuid, utcnow
from dashboard.ops import metrics
from dashboard.services.audit import record_audit
from dashboard.services.errors import ValidationError
from dashboard.services.notifications import check_allowed_recipients

log = logging.getLogger(__name__)

__all__ = [
    "INTERRUPTED_MESSAGE",
    "NEVER_STARTED_MESSAGE",
    "POLL_COLUMNS",
    "ClaimLost",
    "ScheduledExportRunner",
    "describe_error",
    "retry_delay_seconds",
]

TRIGGER_SCHEDULED = "SCHEDULED"
INTERRUPTED_MESSAGE = "The export was interrupted (the worker stopped responding)."
NEVER_STARTED_MESSAGE = "The export was never started (the process that queued it stopped)."
POLL_BATCH = 200
HEARTBEAT_MAX_INTERVAL = 2.0  # seconds between progress writes, at most
RETRY_WINDOW = timedelta(hours=24)
RETRY_JITTER = 0.10


WORK_DIR_PREFIX = "export-run-"
WORK_DIR_MAX_AGE = timedelta(hours=6)


def work_dir_root() -> str:
    """Where exports are written before they are stored (``EXPORT_WORK_DIR``, default the
    system's temporary folder)."""
    return str(_config("EXPORT_WORK_DIR") or tempfile.gettempdir())


def remove_abandoned_work_dirs(max_age: timedelta = WORK_DIR_MAX_AGE) -> int:
    """Delete work folders of runs killed mid-export (a normal run removes its own)."""
    import os

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


class ClaimLost(Exception):
    """This worker no longer holds the run's claim: stop at once and write nothing."""


# ------------------------------------------------------------------------------------ helpers


def _config(name: str, default: Any = None) -> Any:
    return current_app.config.get(name, default)


def retry_delay_seconds(attempt: int, base: float, jitter: float = RETRY_JITTER) -> float:
    """The wait before retrying a run that failed on `attempt` (1 = the original run):
    ``base * 2 ** (attempt - 1)``, spread by +/- `jitter` so that retries do not stampede."""
    delay = float(base) * 2 ** max(0, attempt - 1)
    return delay * random.uniform(1 - jitter, 1 + jitter)


def describe_error(exc: BaseException) -> str:
    """A sentence a business manager can read (the traceback is kept separately)."""
    if isinstance(exc, ValidationError):
        return f"The export's settings are not valid: {exc.summary()}"
    if isinstance(exc, StorageError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The export ran out of memory."
    if isinstance(exc, DBAPIError):
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0:1]
        detail = first_line[0] if first_line else exc.__class__.__name__
        return f"The database failed while the export ran ({detail[:200]})."
    if isinstance(exc, OSError):
        import errno

        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return "The export file could not be written: the disk is full."
        return f"The export file could not be written: {exc.strerror or exc}."
    text = str(exc).strip() or exc.__class__.__name__
    return f"The export failed: {text[:500]}"


def _write(statement, *, retries: int = 1) -> int:
    """Run one UPDATE in its own short transaction on its own connection; its rowcount.

    A dropped connection (PostgreSQL restarted, a killed backend) or a SQLite lock that outlived
    the busy timeout is retried once on a fresh connection; the statements are conditional, so
    running one twice cannot do harm (callers that care check whether it landed)."""
    for attempt in range(retries + 1):
        try:
            with db.engine.begin() as connection:
                return connection.execute(statement).rowcount or 0
        except (OperationalError, DBAPIError) as exc:
            if attempt >= retries or not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                raise
            log.warning("database write failed (%s); retrying once", exc.__class__.__name__)
            time.sleep(0.2)
    return 0  # pragma: no cover


def _claim(history_id: uuid.UUID, values: dict, now: datetime, *, retries: int = 1) -> bool:
    """The run claim in its own short transaction (`fairness.claim_run`: also the business's
    concurrency cap); retried once on a dropped connection, like `_write`."""
    for attempt in range(retries + 1):
        try:
            with db.engine.begin() as connection:
                return fairness.claim_run(connection, history_id, values, now)
        except (OperationalError, DBAPIError) as exc:
            if attempt >= retries or not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                raise
            log.warning("run claim failed (%s); retrying once", exc.__class__.__name__)
            time.sleep(0.2)
    return False  # pragma: no cover


def _fence(history_id: uuid.UUID, token: str):
    """The WHERE of every write of a running export: only the current claim holder matches."""
    return update(ExportHistory).where(
        ExportHistory.id == history_id,
        ExportHistory.claim_token == token,
        ExportHistory.status == STATUS_PROCESSING,
    )


@dataclass
class _RunInfo:
    history_id: uuid.UUID
    business: Business
    export_type: str
    fmt: str
    trigger: str
    attempt: int
    created_at: datetime
    filters: dict
    timezone: str
    owner_view: bool = True  # made for an owner (else owner-only audit details are left out)


def _made_for_an_owner(history: ExportHistory, schedule: ExportSchedule | None) -> bool:
    """Whether the person a run is made for (who started it, else whoever made its schedule) is an
    owner of its business now. Only the Audit Logs export differs by it (owner-only details)."""
    if history.export_type != "AUDIT_LOGS":
        return True
    from dashboard.services.audit import is_owner_of

    requester = history.user_id or (schedule.created_by_id if schedule is not None else None)
    return is_owner_of(history.business_id, requester)


# ------------------------------------------------------------------------------------ one run


class _Run:
    """One execution of one history row by the worker that claimed it."""

    def __init__(self, history_id: uuid.UUID, token: str):
        self.history_id = history_id
        self.token = token
        stale = float(_config("EXPORT_STALE_SECONDS", 1800))
        # Beat often enough that a healthy run is never taken for a stale one, rarely enough that
        # the database does not notice: every 2 s, or faster when the stale time is tiny (tests).
        self.beat_interval = min(HEARTBEAT_MAX_INTERVAL, max(0.05, stale / 4))
        self._last_beat = time.monotonic()

    # -- fenced writes ---------------------------------------------------------------------------
    def fenced(self, **values: Any) -> bool:
        return _write(_fence(self.history_id, self.token).values(**values)) == 1

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
            trigger=history.trigger,
            attempt=history.attempt or 1,
            created_at=history.created_at,
            filters=dict(history.filters_applied or {}),
            timezone=(schedule.timezone if schedule is not None and schedule.timezone else business.timezone)
            or "UTC",
            owner_view=_made_for_an_owner(history, schedule),
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

        stored_path: str | None = None
        workdir: str | None = None
        info: _RunInfo | None = None
        storage = None
        began = time.monotonic()
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

            from dashboard.exports.service import generate_export

            workdir = tempfile.mkdtemp(prefix=f"{WORK_DIR_PREFIX}{self.history_id}-", dir=work_dir_root())
            result = generate_export(
                info.business,
                info.export_type,
                info.fmt,
                filters_for_rerun(resolved),
                now=started,
                progress=self.progress,
                out_dir=workdir,
                pdf_max_rows=_config("PDF_MAX_ROWS"),
                owner_view=info.owner_view,
            )
            db.session.rollback()  # the exporter's reads are over
            self.beat(result.record_count)  # still ours? (cheap, and saves a pointless upload)

            storage = get_storage()
            stored_path = storage.save_export_file(
                result.path,
                result.file_name,
                info.business.id,
                self.history_id,
                created_at=info.created_at,
                content_type=getattr(result, "content_type", None),
            )
            applied = dict(getattr(result, "filters_applied", None) or resolved)
            if resolved.get("date_range") and "date_range" not in applied:
                applied["date_range"] = resolved["date_range"]
            completed = dict(
                status=STATUS_COMPLETED,
                file_name=result.file_name,
                file_path=stored_path,
                file_size=int(result.size),
                record_count=int(result.record_count),
                total_records=result.total_records,
                truncated=bool(result.truncated),
                filters_applied=applied,
                progress=int(result.record_count),
                completed_at=utcnow(),
                claim_token=None,
                next_retry_at=None,
                error_message="",
                error_traceback="",
            )
            if not self._final_write(completed, stored_path):
                raise ClaimLost(f"run {self.history_id} was taken away before it finished")
            stored_path = None  # recorded: from now on the file belongs to the record
            metrics.record_run(
                STATUS_COMPLETED, info.export_type, info.fmt, info.trigger, time.monotonic() - began
            )
            log.info(
                "run %s completed",
                self.history_id,
                extra={"records": int(result.record_count), "file_size": int(result.size)},
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
                retry_at = ScheduledExportRunner.retry_time(info.trigger, info.attempt, finished)
            failed = dict(
                status=STATUS_FAILED,
                error_message=describe_error(exc),
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
            if stored_path is not None and storage is not None:
                # Stored but not recorded (claim lost, or the final write failed): not a result.
                try:
                    storage.delete_export_file(stored_path)
                except Exception:
                    log.exception("run %s: could not delete unrecorded file %s", self.history_id, stored_path)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    def _final_write(self, values: dict, stored_path: str) -> bool:
        try:
            if self.fenced(**values):
                return True
        except (OperationalError, DBAPIError):
            # Did it land before the connection broke? Then the file is the record's.
            if self._landed(stored_path):
                return True
            raise
        return self._landed(stored_path)

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


# What a poll reads of each due schedule: enough to claim it and compute its next occurrence.
POLL_COLUMNS = (
    ExportSchedule.id,
    ExportSchedule.next_run_at,
    ExportSchedule.business_id,
    ExportSchedule.name,
    ExportSchedule.export_type,
    ExportSchedule.format,
    ExportSchedule.filters,
    ExportSchedule.frequency,
    ExportSchedule.hour,
    ExportSchedule.minute,
    ExportSchedule.day_of_week,
    ExportSchedule.day_of_month,
    ExportSchedule.week_of_month,
    ExportSchedule.timezone,
)

# The occurrence claim (see the module docstring), built once: a poll that finds 1,000 due
# schedules runs it 1,000 times.
_schedules = ExportSchedule.__table__
_CLAIM_CAS = (
    update(_schedules)
    .where(
        _schedules.c.id == bindparam("claim_id", type_=GUID()),
        _schedules.c.next_run_at == bindparam("claim_seen", type_=UTCDateTime()),
        _schedules.c.is_active == true(),
    )
    # Keep updated_at: it says when a person last changed the schedule.
    .values(
        next_run_at=bindparam("claim_next", type_=UTCDateTime()),
        last_run_at=bindparam("claim_now", type_=UTCDateTime()),
        updated_at=_schedules.c.updated_at,
    )
)
_CLAIM_INSERT = insert(ExportHistory.__table__)


# PostgreSQL's batch claim (ScheduledExportRunner._claim_batch_postgresql). :claims holds
# {schedule_id, seen, next_at} per schedule; :runs the PENDING history rows, every column given
# (`_history_row_json`), read as export_history records.
_CLAIM_BATCH = text(
    """
WITH claim AS (
    SELECT * FROM jsonb_to_recordset(CAST(:claims AS jsonb))
        AS c(schedule_id uuid, seen timestamp, next_at timestamp)
),
locked AS (
    SELECT s.id, claim.seen, claim.next_at
    FROM export_schedules AS s JOIN claim ON claim.schedule_id = s.id
    WHERE s.next_run_at = claim.seen AND s.is_active
    ORDER BY s.id
    FOR UPDATE OF s SKIP LOCKED
),
moved AS (
    UPDATE export_schedules AS s SET next_run_at = locked.next_at, last_run_at = CAST(:now AS timestamp)
    FROM locked WHERE s.id = locked.id
    RETURNING s.id, locked.seen
),
inserted AS (
    INSERT INTO export_history
    SELECT run.* FROM jsonb_populate_recordset(NULL::export_history, CAST(:runs AS jsonb)) AS run
    JOIN moved ON moved.id = run.schedule_id AND moved.seen = run.occurrence_at
    ON CONFLICT (schedule_id, occurrence_at) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM inserted)
"""
)


def _rows_after(query, time_column, id_column, after: tuple[datetime, uuid.UUID] | None) -> list:
    """The next batch of a query ordered by (time, id), after the last row of the previous batch
    (keyset paging: rows claimed meanwhile never shift a page), read without keeping the
    session's transaction open."""
    if after is not None:
        query = query.where(or_(time_column > after[0], and_(time_column == after[0], id_column > after[1])))
    rows = db.session.execute(query).all()
    db.session.rollback()
    return rows


def _naive_utc(value: datetime | None) -> str | None:
    """As UTCDateTime stores it: naive UTC (a naive value is UTC already)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


_HISTORY_COLUMNS = ExportHistory.__table__.columns


def _history_row_json(values: dict[str, Any]) -> dict[str, Any]:
    """A whole export_history row as JSON: the given values, every other column's Python-side
    default (what an ORM or Core insert would have written), NULL where it has none."""
    row: dict[str, Any] = {}
    for column in _HISTORY_COLUMNS:
        if column.key in values:
            value = values[column.key]
        elif column.default is None:
            value = None
        elif column.default.is_callable:
            value = column.default.arg(None)
        else:
            value = column.default.arg
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = _naive_utc(value)
        row[column.name] = value
    return row


@contextmanager
def _claim_durability(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, claims commit without waiting for the WAL flush (``synchronous_commit
    off``): one fsync per claim made 1,000 claims take over a second. Safe for exactly-once: a
    claim that a server crash forgets is lost whole (the UPDATE and its INSERT are one
    transaction), so the schedule is simply still due and is claimed again; and any later
    synchronous commit (a worker starting the run) flushes the claim before it. SQLite already
    commits this way (WAL with synchronous=NORMAL)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.exec_driver_sql("SET synchronous_commit TO OFF")
    connection.commit()
    try:
        yield
    finally:
        try:
            connection.rollback()
            connection.exec_driver_sql("RESET synchronous_commit")
            connection.commit()
        except DBAPIError:  # a broken connection is discarded by the pool anyway
            connection.invalidate()


# ------------------------------------------------------------------------------------ runner


class ScheduledExportRunner:
    """The seed's runner, and the helpers the API, the pages and the CLI call."""

    # -- polling and claiming ------------------------------------------------------------------
    def run_due_schedules(self, now: datetime | None = None, *, wait: bool = False) -> dict:
        """Claim every due occurrence and start runs on the worker pool.

        Returns the seed's summary figures: ``due`` (seen due), ``claimed`` (occurrences this
        process claimed), ``lost`` (claimed by another process first), ``invalid`` (timing could
        not be computed), ``started`` (runs handed to workers here). With `wait` (the CLI) it
        keeps dispatching until nothing claimable is left and waits for the runs, adding
        ``completed``, ``failed`` and ``not_ours`` (runs another process took first).
        """
        now = now or utcnow()
        summary = self.claim_due_schedules(now)
        futures = self.dispatch_pending(chain=not wait)
        summary["started"] = len(futures)
        if wait:
            outcome = self._wait_and_dispatch(futures)
            summary["started"] = outcome.pop("started")
            summary.update(outcome)
        return summary

    def claim_due_schedules(self, now: datetime | None = None) -> dict:
        """Claim due occurrences (PENDING rows); no export runs here."""
        now = now or utcnow()
        summary = {"due": 0, "claimed": 0, "lost": 0, "invalid": 0, "duplicates": 0}
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            query = (
                select(*POLL_COLUMNS)
                # `= true` (not `IS true`) so PostgreSQL can use the (is_active, next_run_at) index.
                .where(ExportSchedule.is_active == true(), ExportSchedule.next_run_at <= now)
                .order_by(ExportSchedule.next_run_at, ExportSchedule.id)
                .limit(POLL_BATCH)
            )
            rows = _rows_after(query, ExportSchedule.next_run_at, ExportSchedule.id, after)
            if not rows:
                break
            after = (rows[-1].next_run_at, rows[-1].id)
            batch = list(rows)
            # Pollers that start together would all fight over the first row; shuffling spreads
            # them over the batch (the order within one poll does not matter).
            random.shuffle(batch)
            # One connection for the batch, one short transaction per claim: the Session's
            # bookkeeping around each commit cost more than the UPDATE and INSERT themselves.
            # PostgreSQL claims the whole batch in one statement (`_claim_batch_postgresql`).
            with db.engine.connect() as connection, _claim_durability(connection):
                summary["due"] += len(batch)
                if connection.dialect.name == "postgresql":
                    batch = self._claim_batch_postgresql(connection, batch, now, summary)
                for row in batch:
                    outcome = self._claim_one(connection, row, now)
                    summary[outcome] += 1
            if len(rows) < POLL_BATCH:
                break
        if summary["due"]:
            log.info(
                "claimed %(claimed)s of %(due)s due schedules (%(lost)s taken by other pollers)", summary
            )
        return summary

    def _claim_batch_postgresql(
        self, connection: Connection, rows: list, now: datetime, summary: dict
    ) -> list:
        """Claim a batch of due schedules in ONE statement and transaction (PostgreSQL); returns
        the rows left for the one-by-one path (those whose timing cannot be computed).

        The same compare-and-set as `_claim_one`, set-based: each schedule is locked (in id
        order, SKIP LOCKED, so two pollers never wait on each other nor deadlock) only while
        its next_run_at is still the occurrence this poller saw, moved on, and given its PENDING
        run; the unique (schedule_id, occurrence_at) skips an occurrence that already has its
        run (ON CONFLICT DO NOTHING: the schedule still moves on, as `_claim_one` does). A row
        another transaction holds is counted lost: a poller holds it, or a person is saving
        the schedule and the next poll sees it again. One round trip for 200 claims instead of
        600: 1,000 claims went from ~1.6 s to well under one."""
        left, claims, runs = [], [], []
        for row in rows:
            try:
                next_at = next_occurrence(timing_of(row), now).utc
            except ValueError:
                left.append(row)  # `_claim_one` records the invalid timing as a FAILED run
                continue
            claims.append(
                {
                    "schedule_id": str(row.id),
                    "seen": _naive_utc(row.next_run_at),
                    "next_at": _naive_utc(next_at),
                }
            )
            runs.append(_history_row_json(self._scheduled_history(row)))
        if not claims:
            return left
        with connection.begin():
            moved, inserted = connection.execute(
                _CLAIM_BATCH,
                {"claims": json.dumps(claims), "runs": json.dumps(runs), "now": _naive_utc(now)},
            ).one()
        summary["claimed"] += inserted
        summary["duplicates"] += moved - inserted
        summary["lost"] += len(claims) - moved
        return left

    @staticmethod
    def _scheduled_history(row) -> dict[str, Any]:
        """The PENDING run of a claimed occurrence (a row of the poll query)."""
        return {
            "id": new_uuid(),
            "business_id": row.business_id,
            "schedule_id": row.id,
            "schedule_name": row.name,
            "export_type": row.export_type,
            "format": row.format,
            "trigger": TRIGGER_SCHEDULED,
            "status": STATUS_PENDING,
            "filters_applied": dict(row.filters or {}),
            "send_email": True,
            "occurrence_at": row.next_run_at,
            "attempt": 1,
        }

    def _claim_one(self, connection: Connection, row, now: datetime) -> str:
        error = ""
        try:
            next_at: datetime | None = next_occurrence(timing_of(row), now).utc
        except ValueError as exc:
            next_at, error = None, str(exc)
        params = {"claim_id": row.id, "claim_seen": row.next_run_at, "claim_next": next_at, "claim_now": now}
        history = self._scheduled_history(row)
        history_id = history["id"]
        if error:
            history.update(
                status=STATUS_FAILED,
                started_at=now,
                completed_at=now,
                error_message=f"The schedule's timing is not valid ({error}); edit the schedule to run it again.",
            )
        # Core statements (prepared once) rather than an ORM object: the unit of work cost more
        # than the UPDATE and INSERT themselves (1,000 claims must take under a second).
        try:
            with connection.begin():
                if connection.execute(_CLAIM_CAS, params).rowcount != 1:
                    return "lost"  # nothing written; the block commits an empty transaction
                connection.execute(_CLAIM_INSERT, history)
        except IntegrityError:
            # This occurrence already has its run (its next_run_at was set back to an occurrence
            # that ran). Never run it twice: just move the schedule on.
            with connection.begin():
                connection.execute(_CLAIM_CAS, params)
            return "duplicates"
        if error:
            log.error("schedule %s has an invalid timing: %s", row.id, error)
            self._deliver(history_id)
            return "invalid"
        return "claimed"

    # -- dispatching to workers ------------------------------------------------------------------
    def dispatch_pending(
        self,
        *,
        limit: int | None = None,
        chain: bool = True,
        own_slot: bool = False,
        created_before: datetime | None = None,
    ) -> list[Future]:
        """Hand PENDING runs to this process's free workers, in fair order; their futures.

        The order (`fairness.dispatch_order`): scheduled runs first, then businesses in turns, the
        least recently served first; nothing of a business already at its concurrency cap.
        Synchronously (``EXPORT_SYNC``) every dispatchable run is executed before this returns.
        `own_slot`: the caller is a worker about to finish, so its slot counts as free. (Always
        real time: `now` injected into a poll says which occurrences are due, not how old a
        queued row is.)"""
        now = utcnow()
        pool = executor_module.get_executor()
        futures: list[Future] = []
        budget = pool.free_slots() + (1 if own_slot else 0)
        if limit is not None:
            budget = min(limit, budget)
        seen: set[uuid.UUID] = set()
        while budget > 0:
            tracked = pool.tracked()
            order = fairness.dispatch_order(min(budget, POLL_BATCH) + len(tracked), now, created_before)
            fresh = [
                history_id for history_id in order if history_id not in tracked and history_id not in seen
            ]
            if not fresh:
                break
            for history_id in fresh:
                if budget <= 0:
                    break
                seen.add(history_id)
                try:
                    futures.append(self.submit(history_id, chain=chain))
                except RuntimeError:  # the pool is shutting down: leave the rest to others
                    return futures
                budget -= 1
            if not pool.sync:
                # Runs now queued here hold their turn (tracked); one pass fills the free slots.
                break
        return futures

    def submit(self, history_id: uuid.UUID, *, chain: bool = False) -> Future:
        """Queue one run on this process's worker pool (inline with ``EXPORT_SYNC``)."""
        return executor_module.submit(_run_task, history_id, chain, key=history_id)

    def _wait_and_dispatch(self, futures: list[Future]) -> dict:
        # A one-pass command takes what was pending when it got here, not a stream that never ends.
        cutoff = utcnow()
        outcome = {"started": len(futures), "completed": 0, "failed": 0, "not_ours": 0}
        pending = set(futures)
        while True:
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                self._count(outcome, future)
            more = self.dispatch_pending(chain=False, created_before=cutoff)
            outcome["started"] += len(more)
            pending.update(more)
            if not pending:
                break
            wait(pending, timeout=5, return_when=FIRST_COMPLETED)
        return outcome

    @staticmethod
    def _count(outcome: dict, future: Future) -> None:
        try:
            status = future.result()
        except Exception:
            status = STATUS_FAILED
        if status == STATUS_COMPLETED:
            outcome["completed"] += 1
        elif status == STATUS_FAILED:
            outcome["failed"] += 1
        else:
            outcome["not_ours"] += 1

    # -- one run -------------------------------------------------------------------------------
    def run_history(self, history_id: uuid.UUID) -> str | None:
        """Claim a PENDING run and execute it here; its final status, or None when another
        worker has it (or had it)."""
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
        if not _claim(history_id, values, now):
            return None  # another worker has it, or its business is at its concurrency cap
        status = _Run(history_id, token).execute()
        if status is not None:
            self._deliver(history_id)
        return status

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
        history = self._new_history_for_schedule(
            schedule, user, trigger, send_email, override_recipients, occurrence_at=occurrence_at
        )
        db.session.commit()
        with current_app.app_context():  # a worker's own session, as on the pool
            try:
                self.run_history(history.id)
            finally:
                db.session.remove()
        db.session.refresh(history)
        return history

    def _deliver(self, history_id: uuid.UUID) -> None:
        try:
            delivery.deliver_run_result(history_id)
        except Exception:
            # A failed mail never fails a finished export; the outbox retries what it queued.
            log.exception("run %s: mail delivery failed", history_id)
        finally:
            db.session.rollback()

    # -- manual triggers, reruns, one-off exports -------------------------------------------
    def _new_history_for_schedule(
        self,
        schedule: ExportSchedule,
        user: User | None,
        trigger: str,
        send_email: bool,
        override_recipients: list[str] | None,
        occurrence_at: datetime | None = None,
    ) -> ExportHistory:
        now = utcnow()
        history = ExportHistory(
            business_id=schedule.business_id,
            user_id=user.id if user is not None else None,
            schedule_id=schedule.id,
            schedule_name=schedule.name,
            export_type=schedule.export_type,
            format=schedule.format,
            trigger=trigger,
            status=STATUS_PENDING,
            filters_applied=dict(schedule.filters or {}),
            send_email=bool(send_email),
            override_recipients=list(override_recipients) if override_recipients is not None else None,
            occurrence_at=occurrence_at,
            attempt=1,
            created_at=now,
        )
        db.session.add(history)
        self._touch_last_run(schedule.id, now)
        db.session.flush()
        fairness.admit(history.business_id, trigger)
        return history

    @staticmethod
    def _touch_last_run(schedule_id: uuid.UUID | None, now: datetime) -> None:
        if schedule_id is None:
            return
        db.session.execute(
            update(ExportSchedule)
            .where(ExportSchedule.id == schedule_id)
            .values(last_run_at=now, updated_at=ExportSchedule.updated_at)
            .execution_options(synchronize_session=False)
        )

    def _start(self, history: ExportHistory) -> ExportHistory:
        db.session.commit()
        if executor_module.is_sync():
            self.submit(history.id)  # runs here and now: show the finished record
            db.session.refresh(history)
            return history
        # Not straight onto this process's pool: the free workers take the fairest waiting runs,
        # which may be another business's; this one waits its turn in the database.
        self.dispatch_pending(chain=True)
        return history

    def trigger_schedule(
        self,
        schedule: ExportSchedule,
        user: User | None,
        trigger: str = "MANUAL",
        send_email: bool = True,
        override_recipients: list[str] | None = None,
    ) -> ExportHistory:
        """Run a schedule now (also an inactive one). Returns the PENDING record at once.

        Sets ``last_run_at``, never moves ``next_run_at``; audited as ``export.trigger``. An override
        outside the business's allowed recipient domains is a ValidationError, nothing created."""
        if override_recipients is not None and send_email:
            check_allowed_recipients(schedule.business_id, {"override_recipients": list(override_recipients)})
        history = self._new_history_for_schedule(schedule, user, trigger, send_email, override_recipients)
        record_audit(
            schedule.business_id,
            "export.trigger",
            user_id=user.id if user is not None else None,
            entity="export_schedule",
            entity_id=schedule.id,
            details={
                "history_id": str(history.id),
                "trigger": trigger,
                "send_email": bool(send_email),
                "override_recipients": list(override_recipients) if override_recipients is not None else None,
            },
        )
        return self._start(history)

    def rerun_history(
        self, history: ExportHistory, user: User | None, trigger: str = "MANUAL"
    ) -> ExportHistory:
        """Run a past export again: same type, format and resolved filters (the same period),
        same schedule link, same mail choice; a new record, attempt 1. Audited ``export.rerun``."""
        now = utcnow()
        rerun = ExportHistory(
            business_id=history.business_id,
            user_id=user.id if user is not None else None,
            schedule_id=history.schedule_id,
            schedule_name=history.schedule_name,
            export_type=history.export_type,
            format=history.format,
            trigger=trigger,
            status=STATUS_PENDING,
            filters_applied=dict(history.filters_applied or {}),
            send_email=history.send_email,
            override_recipients=list(history.override_recipients)
            if history.override_recipients is not None
            else None,
            attempt=1,
            created_at=now,
        )
        db.session.add(rerun)
        self._touch_last_run(history.schedule_id, now)
        business_id = history.business_id
        db.session.flush()
        fairness.admit(business_id, trigger)
        record_audit(
            history.business_id,
            "export.rerun",
            user_id=user.id if user is not None else None,
            entity="export_history",
            entity_id=history.id,
            details={"history_id": str(rerun.id), "rerun_of": str(history.id), "trigger": trigger},
        )
        return self._start(rerun)

    def start_one_off_export(
        self,
        business: Business,
        user: User | None,
        export_type: str,
        fmt: str,
        filters: dict | None,
        recipients: Iterable[str] | None,
        trigger: str = "MANUAL",
    ) -> ExportHistory:
        """An export without a schedule; mailed to `recipients` when there are any. Audited
        ``export.one_off``. Returns the PENDING record at once. Recipients outside the business's
        allowed domains are a ValidationError, nothing created."""
        recipients = list(recipients or [])
        check_allowed_recipients(business.id, {"recipients": recipients})
        history = ExportHistory(
            business_id=business.id,
            user_id=user.id if user is not None else None,
            schedule_id=None,
            schedule_name="",
            export_type=export_type,
            format=fmt,
            trigger=trigger,
            status=STATUS_PENDING,
            filters_applied=dict(filters or {}),
            send_email=bool(recipients),
            override_recipients=recipients,
            attempt=1,
            created_at=utcnow(),
        )
        db.session.add(history)
        db.session.flush()
        fairness.admit(business.id, trigger)
        record_audit(
            business.id,
            "export.one_off",
            user_id=user.id if user is not None else None,
            entity="export_history",
            entity_id=history.id,
            details={
                "export_type": export_type,
                "format": fmt,
                "filters": dict(filters or {}),
                "recipients": recipients,
                "trigger": trigger,
            },
        )
        return self._start(history)

    # -- retries -------------------------------------------------------------------------------
    @staticmethod
    def retry_time(trigger: str, attempt: int, failed_at: datetime) -> datetime | None:
        """When a failed run should be retried: scheduled runs only, while ``attempt`` (1 = the
        original) is at most ``EXPORT_MAX_RETRIES``; None otherwise."""
        if trigger != TRIGGER_SCHEDULED:
            return None
        if attempt > int(_config("EXPORT_MAX_RETRIES", 3)):
            return None
        delay = retry_delay_seconds(attempt, float(_config("EXPORT_RETRY_BASE_SECONDS", 300)))
        return failed_at + timedelta(seconds=delay)

    def retry_failed_exports(self, now: datetime | None = None, *, wait: bool = False) -> dict:
        """Create (and start) the retries that are due: FAILED scheduled runs of the last 24
        hours whose ``next_retry_at`` has passed, within ``EXPORT_MAX_RETRIES``, not retried
        yet. The unique ``retry_of_id`` makes each retry happen once across processes.
        A run whose schedule was deleted or deactivated meanwhile is not retried."""
        now = now or utcnow()
        max_retries = int(_config("EXPORT_MAX_RETRIES", 3))
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
            retry = ExportHistory(
                business_id=failed.business_id,
                user_id=failed.user_id,
                schedule_id=failed.schedule_id,
                schedule_name=failed.schedule_name,
                export_type=failed.export_type,
                format=failed.format,
                trigger=failed.trigger,
                status=STATUS_PENDING,
                filters_applied=dict(failed.filters_applied or {}),
                send_email=failed.send_email,
                override_recipients=failed.override_recipients,
                attempt=(failed.attempt or 1) + 1,
                retry_of_id=failed.id,
                created_at=utcnow(),
            )
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
        futures = self.dispatch_pending(chain=not wait)
        summary["started"] = len(futures)
        if wait:
            outcome = self._wait_and_dispatch(futures)
            summary["started"] = outcome.pop("started")
            summary.update(outcome)
        return summary

    # -- crash recovery ------------------------------------------------------------------------
    def recover_stale_runs(self, now: datetime | None = None) -> dict:
        """Fail runs whose worker stopped answering, so they are retried and never stay stuck.

        PROCESSING with no heartbeat for ``EXPORT_STALE_SECONDS``: FAILED "interrupted", claim
        cleared (the lost worker's fenced writes then fail), ``next_retry_at`` set for scheduled
        runs. PENDING runs are never failed, however old: they wait their turn and are dispatched
        again by `dispatch_pending` (``pending_expired`` stays 0, for the summary's readers)."""
        now = now or utcnow()
        cutoff = now - timedelta(seconds=float(_config("EXPORT_STALE_SECONDS", 1800)))
        last_sign = func.coalesce(
            ExportHistory.heartbeat_at, ExportHistory.started_at, ExportHistory.created_at
        )
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
            changed = _write(
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
                    error_traceback="",
                    completed_at=now,
                    claim_token=None,
                    next_retry_at=self.retry_time(row.trigger, row.attempt or 1, now),
                )
            )
            if changed:
                summary["stale_failed"] += 1
                finished.append(row.id)
        metrics.record_stale("interrupted", summary["stale_failed"])
        for history_id in finished:
            self._deliver(history_id)
        if finished:
            log.warning(
                "recovered %(stale_failed)s stale runs and %(pending_expired)s never-started runs", summary
            )
        return summary


def _run_task(history_id: uuid.UUID, chain: bool) -> str | None:
    """A worker's task: run one history row; then, when asked, pick the next PENDING one so the
    pool stays busy between polls."""
    runner = ScheduledExportRunner()
    with log_context(history_id=str(history_id)):  # every log line of this run carries its id
        status = runner.run_history(history_id)
        log.info("run ended: %s", status or "not run here (another worker has it)")
    if chain and not executor_module.is_sync():
        try:
            # This worker is about to be free (its own key is still tracked until it returns).
            runner.dispatch_pending(chain=True, own_slot=True)
        except Exception:
            log.exception("could not dispatch the next pending run")
    return status
