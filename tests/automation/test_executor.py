"""The worker pool (bounded, own app context and session per task), triggers that return at once,
the fence while a run works on the pool, SQLite busy for a moment."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import make_url, update

from dashboard.automation import executor
from dashboard.automation.runner import ScheduledExportRunner
from dashboard.extensions import db
from dashboard.models import Business, ExportHistory, User
from dashboard.models.types import utcnow
from dashboard.services import runs
from tests.automation.runner_helpers import (
    TEST_DATABASE_URL,
    add_products,
    histories,
    make_schedule,
    wait_for,
)


@pytest.fixture
def pool_app(app_factory, tmp_path):
    """An app whose exports run on the pool (not inline), on a database threads can share."""
    overrides = dict(EXPORT_SYNC=False, EXPORT_WORKERS=2)
    if not TEST_DATABASE_URL:
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'pool.sqlite3'}"
    application = app_factory(**overrides)
    with application.app_context():
        yield application
        executor.shutdown(wait=True, app=application)


def _business(sales: int = 0) -> tuple[Business, User]:
    business = Business(name="Pool Shop", timezone="UTC")
    user = User(email="pool@example.com", name="Pool")
    db.session.add_all([business, user])
    db.session.commit()
    add_products(business, 30)
    if sales:
        from dashboard import demo

        demo.seed_business("Pool Shop", sales=sales)
        db.session.commit()
    return business, user


def test_each_task_gets_its_own_app_context_and_session(pool_app):
    seen = []

    def task():
        seen.append((id(db.session()), threading.current_thread().name))
        return "done"

    mine = id(db.session())
    futures = [executor.submit(task, key=f"k{i}") for i in range(4)]
    assert [f.result(timeout=30) for f in futures] == ["done"] * 4
    assert all(session_id != mine for session_id, _ in seen)
    assert all(name.startswith("export-worker") for _, name in seen)
    assert executor.get_executor().tracked() == set()


def test_sync_mode_runs_inline_in_a_fresh_context(app):
    assert executor.is_sync()
    outer = id(db.session())
    future = executor.submit(lambda: id(db.session()))
    assert future.done() and future.result() != outer


def test_one_off_exports_return_at_once_and_never_exceed_the_pool(pool_app):
    business, user = _business()
    started = time.monotonic()
    made = [runs.start_one_off_export(business, user, "INVENTORY", "csv", {}, [], "MANUAL") for _ in range(6)]
    assert time.monotonic() - started < 10
    ids = [h.id for h in made]
    pool = executor.get_executor()
    peak = 0

    def all_done():
        nonlocal peak
        peak = max(peak, pool.running())
        db.session.expire_all()
        statuses = [db.session.get(ExportHistory, i).status for i in ids]
        db.session.rollback()
        return all(s == "COMPLETED" for s in statuses)

    wait_for(all_done, timeout=60, interval=0.005, message="six exports")
    assert 1 <= peak <= 2
    # the tasks end shortly after their runs (mail comes after the final write)
    wait_for(lambda: pool.free_slots() == 2, timeout=30, message="the pool to be free")


def test_a_run_whose_claim_is_taken_stops_at_its_next_progress(pool_app):
    business, user = _business(sales=8000)
    schedule = make_schedule(
        business,
        export_type="SALES",
        format="excel",
        filters={"start_date": "2000-01-01", "end_date": "2099-12-31"},
        next_run_at=None,
    )
    pool_app.config["EXPORT_STALE_SECONDS"] = 1  # heartbeat every 0.25 s
    history = runs.trigger_schedule(schedule, user, "MANUAL")

    def running():
        db.session.expire_all()
        found = db.session.get(ExportHistory, history.id)
        db.session.rollback()
        return found.status == "PROCESSING" and found.progress >= 1000

    wait_for(running, timeout=60, interval=0.01, message="the export to be running")
    # Another worker takes the run over (as stale recovery or a gunicorn hand-back would).
    db.session.execute(
        update(ExportHistory).where(ExportHistory.id == history.id).values(claim_token="someone-else")
    )
    db.session.commit()
    wait_for(lambda: not executor.get_executor().tracked(), timeout=60, message="the worker to stop")
    [run] = histories(id=history.id)
    assert run.status == "PROCESSING" and run.claim_token == "someone-else"
    assert run.file_path == "" and run.progress < 8000
    from dashboard.storage import get_storage

    root = get_storage().root
    assert not root.exists() or not list(root.rglob(f"*{history.id}*"))


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's database-wide write lock")
def test_sqlite_busy_for_a_moment_only_delays_the_run(pool_app):
    business, _ = _business()
    make_schedule(business, next_run_at=utcnow() - timedelta(seconds=1))
    path = make_url(pool_app.config["SQLALCHEMY_DATABASE_URI"]).database
    locker = sqlite3.connect(path, timeout=5, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the database...
    release = threading.Timer(1.5, locker.commit)  # ...for a moment
    release.start()
    try:
        started = time.monotonic()
        summary = ScheduledExportRunner().run_due_schedules(wait=True)
        assert time.monotonic() - started >= 1.0
    finally:
        release.join()
        locker.close()
    assert summary["claimed"] == 1 and summary["completed"] == 1
    [run] = histories()
    assert run.status == "COMPLETED"
