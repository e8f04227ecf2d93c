"""Sharing the workers between businesses (issue 15, CONTRACT section 6), on the real database and
the real runner: the per-business concurrency cap under parallel runners, the fair dispatch order,
the queue cap's exceptions for the scheduler's own runs.

The cap and order tests failed on the code before fair execution (no cap: three runners ran three
runs of one business at once; dispatch was first-come: B1..B5, A1, A2, C1).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dashboard.automation import executor, fairness
from dashboard.automation.runner import ScheduledExportRunner
from dashboard.extensions import db
from dashboard.models import Business, ExportHistory
from dashboard.models.types import utcnow
from dashboard.services import runs
from tests.automation.runner_helpers import TEST_DATABASE_URL, add_products, make_schedule


@pytest.fixture
def file_app(app_factory, tmp_path):
    """Runs on a database that threads can share (a SQLite file, or PostgreSQL)."""

    def make(**overrides):
        if not TEST_DATABASE_URL:
            overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'fair.sqlite3'}"
        return app_factory(**overrides)

    return make


def _business(name: str) -> Business:
    business = Business(name=name, timezone="UTC")
    db.session.add(business)
    db.session.commit()
    add_products(business, 10)
    return business


def _pending(business: Business, *, trigger: str = "MANUAL", created_at=None, **fields) -> ExportHistory:
    fields.setdefault("status", "PENDING")
    run = ExportHistory(
        business_id=business.id,
        export_type="INVENTORY",
        format="csv",
        trigger=trigger,
        created_at=created_at or utcnow(),
        **fields,
    )
    db.session.add(run)
    db.session.commit()
    return run


@pytest.mark.parametrize("cap, runners", [(1, 2), (2, 3)])
def test_the_concurrency_cap_holds_with_runners_in_parallel(file_app, monkeypatch, cap, runners):
    app = file_app(EXPORT_MAX_CONCURRENT_PER_BUSINESS=cap)
    import dashboard.exports.service as export_service

    real = export_service.generate_export
    lock = threading.Lock()
    running: dict[str, int] = {}
    peak: dict[str, int] = {}

    def slow_export(business, *args, **kwargs):
        # Every runner works at once: without the cap each would take a run of the same business.
        with lock:
            running[business.name] = running.get(business.name, 0) + 1
            peak[business.name] = max(peak.get(business.name, 0), running[business.name])
        try:
            time.sleep(0.3)
            return real(business, *args, **kwargs)
        finally:
            with lock:
                running[business.name] -= 1

    monkeypatch.setattr(export_service, "generate_export", slow_export)
    with app.app_context():
        busy = _business("Busy Shop")
        ids = [_pending(busy).id for _ in range(2 * runners)]
        db.session.remove()

    def runner_thread(order: list) -> None:
        deadline = time.monotonic() + 60
        with app.app_context():
            runner = ScheduledExportRunner()
            while time.monotonic() < deadline:
                left = db.session.scalar(
                    select(func.count()).where(ExportHistory.status == "PENDING").select_from(ExportHistory)
                )
                db.session.rollback()
                if not left:
                    return
                for history_id in order:
                    runner.run_history(history_id)
                time.sleep(0.02)

    threads = [
        threading.Thread(target=runner_thread, args=(ids[i:] + ids[:i],)) for i in range(0, runners * 2, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    with app.app_context():
        statuses = db.session.scalars(select(ExportHistory.status)).all()
    assert statuses == ["COMPLETED"] * len(ids)
    assert peak["Busy Shop"] == cap


def test_dispatch_takes_scheduled_runs_first_then_businesses_in_turn(app, factory):
    app.config["EXPORT_MAX_CONCURRENT_PER_BUSINESS"] = 1
    now = utcnow()
    bulk, small, planned = _business("Bulk"), _business("Small"), _business("Planned")
    # Bulk was served a minute ago, Small an hour ago: Small is the least recently served.
    for business, minutes in ((bulk, 1), (small, 60)):
        db.session.add(
            ExportHistory(
                business_id=business.id,
                export_type="INVENTORY",
                format="csv",
                status="COMPLETED",
                created_at=now - timedelta(minutes=minutes),
                started_at=now - timedelta(minutes=minutes),
                completed_at=now - timedelta(minutes=minutes),
            )
        )
    db.session.commit()
    names = {}
    for i in range(5):
        names[_pending(bulk, created_at=now - timedelta(seconds=50 - i)).id] = f"B{i + 1}"
    for i in range(2):
        names[_pending(small, created_at=now - timedelta(seconds=40 - i)).id] = f"A{i + 1}"
    schedule = make_schedule(planned)
    names[_pending(planned, trigger="SCHEDULED", schedule_id=schedule.id, created_at=now).id] = "C1"

    ScheduledExportRunner().dispatch_pending()  # synchronous: runs them all, in its order

    runs = db.session.scalars(
        select(ExportHistory).where(ExportHistory.id.in_(names)).order_by(ExportHistory.started_at)
    ).all()
    assert all(run.status == "COMPLETED" for run in runs)
    assert [names[run.id] for run in runs] == ["C1", "A1", "B1", "A2", "B2", "B3", "B4", "B5"]


def test_dispatch_offers_nothing_of_a_business_at_its_cap(app):
    app.config["EXPORT_MAX_CONCURRENT_PER_BUSINESS"] = 1
    busy, idle = _business("Busy"), _business("Idle")
    _pending(busy, status="PROCESSING", started_at=utcnow(), heartbeat_at=utcnow())
    waiting = _pending(busy)
    other = _pending(idle)
    assert fairness.dispatch_order(10, utcnow()) == [other.id]
    # A run whose worker stopped answering holds no slot.
    stale = utcnow() - timedelta(seconds=app.config["EXPORT_STALE_SECONDS"] + 60)
    db.session.execute(
        ExportHistory.__table__.update()
        .where(ExportHistory.status == "PROCESSING")
        .values(heartbeat_at=stale, started_at=stale)
    )
    db.session.commit()
    assert set(fairness.dispatch_order(10, utcnow())) == {waiting.id, other.id}


def test_the_scheduler_is_never_refused_by_the_queue_cap(app):
    """A full queue of people's runs does not lose a scheduled occurrence: it is claimed and run
    once; the scheduler's runs are not counted against the cap either."""
    app.config["EXPORT_MAX_QUEUED_PER_BUSINESS"] = 2
    shop = _business("Full Queue")
    for _ in range(2):
        _pending(shop, created_at=utcnow() - timedelta(minutes=1))
    due = utcnow() - timedelta(minutes=1)
    schedule = make_schedule(shop, next_run_at=due)
    summary = ScheduledExportRunner().run_due_schedules(utcnow())
    assert summary["claimed"] == 1
    scheduled = db.session.scalars(
        select(ExportHistory).where(
            ExportHistory.schedule_id == schedule.id, ExportHistory.trigger == "SCHEDULED"
        )
    ).all()
    assert len(scheduled) == 1
    assert scheduled[0].status in ("COMPLETED", "EMAILED")
    # Many scheduled runs waiting do not fill the queue for people.
    for _ in range(3):
        _pending(shop, trigger="SCHEDULED", created_at=utcnow())
    db.session.execute(
        ExportHistory.__table__.update().where(ExportHistory.trigger == "MANUAL").values(status="COMPLETED")
    )
    db.session.commit()
    fairness.admit(shop.id, "MANUAL")  # no QueueFull: 0 waiting people's runs


def test_a_pool_process_never_queues_more_than_its_free_workers(file_app):
    """Waiting happens in the database (where every process sees it), not in one process's
    in-memory queue: a burst of one business leaves the rest PENDING, not queued on the pool."""
    app = file_app(EXPORT_SYNC=False, EXPORT_WORKERS=2, EXPORT_MAX_CONCURRENT_PER_BUSINESS=1)
    with app.app_context():
        try:
            shop = _business("Burst")
            for _ in range(6):
                runs.start_one_off_export(shop, None, "INVENTORY", "csv", {}, [], "API")
                assert len(executor.get_executor().tracked()) <= 2
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                db.session.rollback()
                left = db.session.scalar(
                    select(func.count()).select_from(ExportHistory).where(ExportHistory.status != "COMPLETED")
                )
                if not left:
                    break
                time.sleep(0.05)
            assert left == 0  # the workers chained through the queue one by one
        finally:
            executor.shutdown(wait=True, app=app)


def test_the_queue_cap_is_exact_when_requests_race(file_app, monkeypatch):
    """Eight requests at once against a cap of three: three runs, five refusals, whatever the
    interleaving (SQLite's write lock, PostgreSQL's advisory lock per business)."""
    app = file_app(EXPORT_MAX_QUEUED_PER_BUSINESS=3, EXPORT_MAX_CONCURRENT_PER_BUSINESS=1)
    real_audit = runs.record_audit

    def slow_audit(*args, **kwargs):
        # Widen the window between the count and the commit, where an unlocked check lets every
        # request see the same two or three waiting runs (PostgreSQL's READ COMMITTED).
        time.sleep(0.1)
        return real_audit(*args, **kwargs)

    monkeypatch.setattr(runs, "record_audit", slow_audit)
    with app.app_context():
        shop = _business("Racing")
        # A run in progress: nothing of this business can start, so every new run stays PENDING.
        _pending(shop, status="PROCESSING", started_at=utcnow(), heartbeat_at=utcnow())
        shop_id = shop.id
        db.session.remove()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def request() -> None:
        with app.app_context():
            business = db.session.get(Business, shop_id)
            barrier.wait()
            try:
                runs.start_one_off_export(business, None, "INVENTORY", "csv", {}, [], "API")
                outcomes.append("accepted")
            except fairness.QueueFull as exc:
                assert exc.retry_after > 0
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["accepted"] * 3 + ["refused"] * 5
    with app.app_context():
        waiting = db.session.scalar(
            select(func.count()).select_from(ExportHistory).where(ExportHistory.status == "PENDING")
        )
    assert waiting == 3
