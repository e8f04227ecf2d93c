"""The in-process scheduler: when it starts (never twice, never for `flask db upgrade`), its jobs'
settings, and the real thing running schedules end to end: in this process, under `flask run`
(with the debug reloader) and as `flask scheduler run`."""

from __future__ import annotations

import csv
import io
import signal
import socket
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dashboard.automation import jobs
from dashboard.extensions import db
from dashboard.models import Business, ExportHistory, ExportSchedule
from dashboard.models.types import utcnow
from dashboard.storage import get_storage
from tests.automation.runner_helpers import (
    FLASK,
    TEST_DATABASE_URL,
    add_products,
    histories,
    make_schedule,
    wait_for,
)


def fake_app(testing=False, debug=False, **config):
    settings = {"SCHEDULER_ENABLED": True}
    settings.update(config)
    return SimpleNamespace(config=settings, testing=testing, debug=debug)


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/srv/.venv/bin/flask", "run"], True),
        (["flask", "--app", "app", "run", "--port", "5000"], True),
        (["flask", "-A", "app", "--debug", "run"], True),
        (["/srv/.venv/bin/flask", "db", "upgrade"], False),
        (["flask", "--app", "run", "db", "upgrade"], False),  # an app module named "run"
        (["flask", "users", "create", "a@example.com"], False),
        (["flask", "exports", "run-due"], False),
        (["flask", "scheduler", "run"], False),  # runs its own, in the foreground
        (["flask", "shell"], False),
        (["/usr/lib/python3/site-packages/flask/__main__.py", "db", "upgrade"], False),
        (["/srv/.venv/bin/gunicorn", "app:app"], True),
        (["app.py"], True),
    ],
)
def test_which_processes_start_the_scheduler(argv, expected, monkeypatch):
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert jobs.should_start_scheduler(fake_app(), argv=argv) is expected


@pytest.mark.nodb
def test_scheduler_start_rules(monkeypatch):
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    run = ["flask", "run"]
    assert jobs.should_start_scheduler(fake_app(SCHEDULER_ENABLED=False), argv=run) is False
    assert jobs.should_start_scheduler(fake_app(testing=True), argv=run) is False
    assert jobs.should_start_scheduler(fake_app(testing=True, SCHEDULER_FORCE=True), argv=run) is True
    # the debug reloader: its parent never starts one, its child does
    assert jobs.should_start_scheduler(fake_app(debug=True), argv=run) is False
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    assert jobs.should_start_scheduler(fake_app(debug=True), argv=run) is True


def test_jobs_never_drop_a_late_poll(app):
    app.config.update(SCHEDULER_POLL_SECONDS=60)
    scheduler = jobs.create_scheduler(app)
    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == set(jobs.JOB_IDS)
    for job in found.values():
        assert job.misfire_grace_time is None and job.coalesce is True and job.max_instances == 1
    assert found["check_and_run_scheduled_exports"].trigger.interval == timedelta(seconds=60)
    assert found["process_mail_outbox"].trigger.interval == timedelta(seconds=60)
    assert "hour='2'" in str(found["cleanup_old_exports"].trigger)
    assert found["retry_failed_exports"].trigger.interval == timedelta(seconds=60)


def test_testing_app_has_no_scheduler(app):
    assert "export_scheduler" not in app.extensions


@pytest.mark.slow
def test_in_app_scheduler_runs_due_schedules_end_to_end(app_factory, tmp_path):
    overrides = dict(
        SCHEDULER_ENABLED=True,
        SCHEDULER_FORCE=True,
        SCHEDULER_POLL_SECONDS=0.5,
        EXPORT_SYNC=False,
        EXPORT_WORKERS=2,
    )
    if not TEST_DATABASE_URL:  # threads need a real file, not the shared in-memory connection
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"
    application = app_factory(**overrides)
    try:
        assert application.extensions["export_scheduler"][1].running
        with application.app_context():
            business = Business(name="Scheduled Shop", timezone="Europe/London")
            db.session.add(business)
            db.session.commit()
            add_products(business, 12)
            now = utcnow()
            soon = make_schedule(business, name="Soon", next_run_at=now + timedelta(seconds=1))
            # stopped across three daily occurrences: runs once, then moves to the next future one
            missed = make_schedule(
                business,
                name="Missed",
                timezone="Europe/London",
                next_run_at=now - timedelta(days=2, hours=1),
            )

            def finished(schedule_id):
                db.session.expire_all()
                found = db.session.scalars(
                    select(ExportHistory).where(
                        ExportHistory.schedule_id == schedule_id, ExportHistory.status == "COMPLETED"
                    )
                ).all()
                db.session.rollback()
                return found

            [run] = wait_for(lambda: finished(soon.id), timeout=60, message="the scheduled run")
            wait_for(lambda: finished(missed.id), timeout=60, message="the missed run")
            time.sleep(1.2)  # two more polls: nothing runs twice
            assert len(histories(schedule_id=soon.id)) == 1
            assert len(histories(schedule_id=missed.id)) == 1
            with get_storage().get_export_file(run.file_path) as stream:
                rows = list(csv.reader(io.StringIO(stream.read().decode("utf-8-sig"))))
            assert rows[0][0] == "SKU" and len(rows) == 13
            db.session.expire_all()
            for schedule in (
                db.session.get(ExportSchedule, soon.id),
                db.session.get(ExportSchedule, missed.id),
            ):
                assert schedule.next_run_at > utcnow()
    finally:
        jobs.shutdown_scheduler(application, wait=True)
    assert "export_scheduler" not in application.extensions


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed_due(shared_db, name: str):
    app = shared_db.app()
    with app.app_context():
        business = Business(name=f"{name} Shop", timezone="UTC")
        db.session.add(business)
        db.session.commit()
        add_products(business, 7)
        schedule = make_schedule(business, name=name, next_run_at=utcnow() + timedelta(seconds=2))
        return schedule.id


def _completed(shared_db, schedule_id):
    with shared_db.app().app_context():
        found = db.session.execute(
            select(ExportHistory.record_count, ExportHistory.trigger).where(
                ExportHistory.schedule_id == schedule_id, ExportHistory.status == "COMPLETED"
            )
        ).all()
        db.session.rollback()
        return found


@pytest.mark.slow
def test_flask_run_with_the_debug_reloader_starts_one_scheduler(shared_db):
    schedule_id = _seed_due(shared_db, "Served")
    port = _free_port()
    server = shared_db.spawn(
        [FLASK, "--debug", "run", "--port", str(port)],
        new_session=True,
        SCHEDULER_ENABLED=1,
        SCHEDULER_POLL_SECONDS=1,
        LOG_LEVEL="INFO",
    )
    try:
        [run] = wait_for(
            lambda: _completed(shared_db, schedule_id), timeout=90, message="the served app's run"
        )
        assert run.record_count == 7
    finally:
        shared_db.stop_group(server)
        _, err = server.communicate(timeout=30)
        shared_db.stop_group(server, signal.SIGKILL)  # the reloader's child, should it linger
    assert err.count("export scheduler started") == 1, err[-3000:]


@pytest.mark.slow
def test_flask_scheduler_run_in_the_foreground_stops_cleanly(shared_db):
    schedule_id = _seed_due(shared_db, "Foreground")
    child = shared_db.spawn([FLASK, "scheduler", "run"], SCHEDULER_POLL_SECONDS=1, LOG_LEVEL="INFO")
    try:
        [run] = wait_for(
            lambda: _completed(shared_db, schedule_id), timeout=90, message="the scheduler's run"
        )
        assert run.trigger == "SCHEDULED"
    finally:
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err[-3000:]
    assert out.startswith("Export scheduler running") and "Export scheduler stopped." in out
