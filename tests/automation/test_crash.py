"""Crash safety with real processes on one shared database (SQLite file, or PostgreSQL in the
PostgreSQL pass) holding 15,000 sales, so a SALES Excel export takes a few seconds:

* SIGKILL mid-export: the run stays PROCESSING until the stale time passes, then `flask exports
  run-due` marks it FAILED ("interrupted"), and `flask exports retry-failed` retries it once.
* SIGSTOP past the stale time, then SIGCONT: the paused worker changes nothing (its fenced writes
  fail, its file is not recorded, it sends no export mail); the retry stands.
* A schedule deleted while its run works: the run finishes truthfully.
* (PostgreSQL) the database connections of a working run are killed: a truthful record, and the
  schedule runs again.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, make_url, select, text

from dashboard.automation.runner import INTERRUPTED_MESSAGE, ScheduledExportRunner
from dashboard.extensions import db
from dashboard.models import Business, ExportHistory, ExportSchedule, MailMessage
from dashboard.models.types import utcnow
from tests.automation.runner_helpers import (
    FLASK,
    TEST_DATABASE_URL,
    SharedDatabase,
    _fresh_copy,
    _pg_drop,
    make_schedule,
    wait_for,
)

pytestmark = pytest.mark.slow

SALES = 15_000
STALE = 2  # seconds: EXPORT_STALE_SECONDS for every process here
ALL_TIME = {"start_date": "2000-01-01", "end_date": "2099-12-31"}
ENV = dict(EXPORT_STALE_SECONDS=STALE, EXPORT_RETRY_BASE_SECONDS=1, EXPORT_MAX_RETRIES=3, EXPORT_WORKERS=1)


@pytest.fixture(scope="module")
def big_db(migrated_template, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crash")
    database = SharedDatabase(_fresh_copy(migrated_template, tmp, "crash"), tmp)
    app = database.app(**ENV)
    with app.app_context():
        from dashboard import demo

        demo.seed_business("Crash Shop", sales=SALES, timezone="UTC")
        db.session.commit()
    yield database
    database.close()
    if TEST_DATABASE_URL:
        _pg_drop(TEST_DATABASE_URL, make_url(database.url).database)


@pytest.fixture
def crash(big_db):
    """The shared database, with no due schedule or unfinished run left by an earlier test."""
    app = big_db.app()
    with app.app_context():
        yield big_db
        db.session.rollback()
        db.session.execute(ExportSchedule.__table__.update().values(is_active=False))
        db.session.execute(
            ExportHistory.__table__.update()
            .where(ExportHistory.status.in_(("PENDING", "PROCESSING")))
            .values(status="FAILED", claim_token=None)
        )
        db.session.commit()


def _business() -> Business:
    return db.session.scalar(select(Business).where(Business.name == "Crash Shop"))


def _due_sales_schedule(name: str) -> ExportSchedule:
    return make_schedule(
        _business(),
        name=name,
        export_type="SALES",
        format="excel",
        filters=ALL_TIME,
        next_run_at=utcnow() - timedelta(seconds=1),
    )


def _get(history_id) -> ExportHistory:
    db.session.expire_all()
    history = db.session.get(ExportHistory, history_id)
    db.session.rollback()
    return history


def _running_run(schedule_id) -> ExportHistory | None:
    db.session.expire_all()
    history = db.session.scalar(
        select(ExportHistory).where(
            ExportHistory.schedule_id == schedule_id,
            ExportHistory.status == "PROCESSING",
            ExportHistory.progress >= 2000,
        )
    )
    db.session.rollback()
    return history


def _files_of(database: SharedDatabase, history_id) -> list:
    root = database.tmp / "exports"
    return list(root.rglob(f"*{history_id}*")) if root.exists() else []


def _rows_in_workbook(database: SharedDatabase, history: ExportHistory) -> int:
    from openpyxl import load_workbook

    path = database.tmp / "exports" / history.file_path.removeprefix("exports/")
    workbook = load_workbook(path, read_only=True)
    # The data sheets (a first "Summary" sheet holds the period-over-period figures, not rows).
    data_sheets = [sheet for sheet in workbook.worksheets if sheet.title != "Summary"]
    rows = sum(1 for sheet in data_sheets for _ in sheet.iter_rows(values_only=True))
    workbook.close()
    return rows


def _wait_stale(history_id) -> None:
    history = _get(history_id)
    last = history.heartbeat_at or history.started_at
    delay = (last + timedelta(seconds=STALE + 0.3) - utcnow()).total_seconds()
    if delay > 0:
        time.sleep(delay)


def _stop_cleanly(child, database: SharedDatabase, history_id) -> None:
    """SIGSTOP the worker at a moment when it holds no database lock (a real paused process could
    hold one; that case is the database's lock timeout's, not the runner's)."""
    for _ in range(50):
        child.send_signal(signal.SIGSTOP)
        if not _lock_held(database, history_id):
            return
        child.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("the worker always held a lock")


def _lock_held(database: SharedDatabase, history_id) -> bool:
    url = make_url(database.url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, timeout=0.3)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()
    with db.engine.connect() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '300ms'"))
        try:
            connection.execute(
                text("SELECT id FROM export_history WHERE id = :id FOR UPDATE"), {"id": history_id}
            )
            return False
        except Exception:
            return True
        finally:
            connection.rollback()


def test_sigkill_mid_export_fails_after_stale_time_and_is_retried_once(crash):
    schedule = _due_sales_schedule("Killed")
    worker = crash.spawn([FLASK, "exports", "run-due"], **ENV)
    run = wait_for(lambda: _running_run(schedule.id), timeout=60, message="the export to be running")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    # Before the stale time nothing happens; the half-written file is nowhere to be served.
    killed = _get(run.id)
    before_stale = killed.heartbeat_at + timedelta(seconds=STALE - 0.2)
    assert ScheduledExportRunner().recover_stale_runs(before_stale)["stale_failed"] == 0
    killed = _get(run.id)
    assert killed.status == "PROCESSING" and killed.file_path == "" and not _files_of(crash, run.id)
    # the half-written file is left in the killed worker's work folder, which nothing serves
    [work_dir] = crash.tmp.glob(f"export-run-{run.id}-*")
    assert [p.name for p in work_dir.iterdir()]

    _wait_stale(run.id)
    result = crash.cli("exports", "run-due", **ENV)
    assert result.returncode == 0, result.stderr
    assert "1 recovered stale" in result.stdout
    failed = _get(run.id)
    assert failed.status == "FAILED" and failed.error_message == INTERRUPTED_MESSAGE
    assert failed.claim_token is None and failed.file_path == ""
    delay = (failed.next_retry_at - failed.completed_at).total_seconds()
    assert 0.9 <= delay <= 1.1  # EXPORT_RETRY_BASE_SECONDS x 2^0, with jitter

    time.sleep(max(0.0, (failed.next_retry_at - utcnow()).total_seconds()) + 0.1)
    result = crash.cli("exports", "retry-failed", **ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("retry-failed: 1 candidates, 1 retried"), result.stdout
    retry = db.session.scalar(select(ExportHistory).where(ExportHistory.retry_of_id == run.id))
    assert retry.status in ("COMPLETED", "EMAILED") and retry.attempt == 2 and retry.trigger == "SCHEDULED"
    assert retry.record_count == SALES
    assert _rows_in_workbook(crash, retry) == SALES + 2  # header and totals
    # retried once: asking again makes no second retry
    assert crash.cli("exports", "retry-failed", **ENV).stdout.startswith("retry-failed: 0 candidates")
    runs = db.session.scalar(
        select(func.count(ExportHistory.id)).where(ExportHistory.schedule_id == schedule.id)
    )
    assert runs == 2


def test_sigstop_past_stale_time_then_sigcont_changes_nothing(crash):
    schedule = _due_sales_schedule("Paused")
    worker = crash.spawn([FLASK, "exports", "run-due"], **ENV)
    run = wait_for(lambda: _running_run(schedule.id), timeout=60, message="the export to be running")
    _stop_cleanly(worker, crash, run.id)
    try:
        assert _get(run.id).status == "PROCESSING", "the export finished before it could be paused"
        _wait_stale(run.id)
        result = crash.cli("exports", "run-due", **ENV)
        assert "1 recovered stale" in result.stdout, result.stdout + result.stderr
        failed = _get(run.id)
        assert failed.status == "FAILED" and failed.error_message == INTERRUPTED_MESSAGE
        snapshot = (
            failed.status,
            failed.progress,
            failed.file_path,
            failed.completed_at,
            failed.error_message,
        )

        time.sleep(max(0.0, (failed.next_retry_at - utcnow()).total_seconds()) + 0.1)
        result = crash.cli("exports", "retry-failed", **ENV)
        assert "1 retried" in result.stdout, result.stdout + result.stderr
    finally:
        worker.send_signal(signal.SIGCONT)
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err[-3000:]
    # The resumed worker found its claim gone and stopped: nothing it did after the pause counts.
    assert "0 completed, 0 failed" in out, out
    after = _get(run.id)
    assert (
        after.status,
        after.progress,
        after.file_path,
        after.completed_at,
        after.error_message,
    ) == snapshot
    assert after.claim_token is None
    assert not _files_of(crash, run.id)
    export_mails = db.session.scalar(
        select(func.count(MailMessage.id)).where(
            MailMessage.history_id == run.id, MailMessage.kind == "export"
        )
    )
    assert export_mails == 0
    retry = db.session.scalar(select(ExportHistory).where(ExportHistory.retry_of_id == run.id))
    assert retry.status in ("COMPLETED", "EMAILED") and retry.record_count == SALES
    assert _files_of(crash, retry.id)


def test_schedule_deleted_while_its_run_works(crash):
    schedule = _due_sales_schedule("Deleted mid-run")
    schedule_id = schedule.id
    worker = crash.spawn([FLASK, "exports", "run-due"], **ENV)
    run = wait_for(lambda: _running_run(schedule_id), timeout=60, message="the export to be running")
    db.session.delete(db.session.get(ExportSchedule, schedule_id))
    db.session.commit()
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err[-3000:]
    finished = _get(run.id)
    assert finished.status in ("COMPLETED", "EMAILED"), finished.error_message
    assert finished.schedule_id is None and finished.schedule_name == "Deleted mid-run"
    assert finished.record_count == SALES and _files_of(crash, run.id)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL only: kills the run's server connections")
def test_lost_postgresql_connections_leave_a_truthful_record_and_the_run_happens(crash):
    schedule = _due_sales_schedule("Connection lost")
    worker = crash.spawn([FLASK, "exports", "run-due"], **ENV)
    run = wait_for(lambda: _running_run(schedule.id), timeout=60, message="the export to be running")
    database = make_url(crash.url).database
    with db.engine.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ),
            {"db": database},
        ).scalar()
        connection.commit()
    assert killed >= 1
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err[-3000:]
    first = _get(run.id)
    if first.status == "FAILED":  # the exporter's own stream was cut: a truthful failure...
        assert first.error_message.startswith("The database failed while the export ran")
        assert first.next_retry_at is not None
        time.sleep(max(0.0, (first.next_retry_at - utcnow()).total_seconds()) + 0.1)
        result = crash.cli("exports", "retry-failed", **ENV)
        assert "1 retried" in result.stdout, result.stdout + result.stderr
        retry = db.session.scalar(select(ExportHistory).where(ExportHistory.retry_of_id == run.id))
        assert retry.status in ("COMPLETED", "EMAILED")  # ...and the run happens all the same
    else:
        assert first.status in ("COMPLETED", "EMAILED") and first.record_count == SALES
