"""The runner in one process (EXPORT_SYNC): claims, coalescing, the run flow with the real
exporters and storage, failures, retries with backoff, stale-run recovery, fencing, triggers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dashboard.automation import jobs
from dashboard.automation.calculator import ScheduleCalculator
from dashboard.automation.execution import _Run
from dashboard.automation.runner import (
    INTERRUPTED_MESSAGE,
    NEVER_STARTED_MESSAGE,
    POLL_COLUMNS,
    ScheduledExportRunner,
    describe_error,
    retry_delay_seconds,
)
from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory, ExportSchedule
from dashboard.models.types import utcnow
from dashboard.services import runs
from dashboard.storage import get_storage
from tests.automation.runner_helpers import TEST_DATABASE_URL, histories, make_schedule, utc

BAD_SALES_FILTERS = {"start_date": "2024-02-30", "end_date": "2024-03-01"}  # no such day


def read_csv(history: ExportHistory) -> list[list[str]]:
    with get_storage().get_export_file(history.file_path) as stream:
        return list(csv.reader(io.StringIO(stream.read().decode("utf-8-sig"))))


def test_due_schedule_runs_once_and_moves_on(shop):
    now = utcnow()
    due_at = now - timedelta(minutes=1)
    schedule = make_schedule(shop.business, shop.owner, next_run_at=due_at)

    summary = ScheduledExportRunner().run_due_schedules(now)

    assert summary["due"] == 1 and summary["claimed"] == 1 and summary["started"] == 1
    [run] = histories()
    assert run.status == "COMPLETED", run.error_message
    assert run.trigger == "SCHEDULED" and run.schedule_id == schedule.id and run.attempt == 1
    assert run.occurrence_at == due_at.replace(microsecond=due_at.microsecond)
    assert run.record_count == 25 and run.progress == 25 and run.claim_token is None
    assert run.file_path.startswith(f"exports/{shop.business.id}/")
    rows = read_csv(run)
    assert rows[0][0] == "SKU" and len(rows) == 26
    db.session.refresh(schedule)
    assert schedule.last_run_at == now
    assert schedule.next_run_at == ScheduleCalculator.calculate_next_run(schedule, now) > now
    # nothing is due any more: a second poll does nothing
    assert ScheduledExportRunner().run_due_schedules(now)["due"] == 0
    assert len(histories()) == 1


def test_downtime_across_three_occurrences_runs_once(shop):
    # Daily at 08:00; the scheduler was down from before Monday's run until Thursday 10:00.
    schedule = make_schedule(shop.business, next_run_at=utc(2027, 3, 1, 8, 0))
    now = utc(2027, 3, 4, 10, 0)
    summary = ScheduledExportRunner().run_due_schedules(now)
    assert summary["claimed"] == 1
    assert len(histories()) == 1
    db.session.refresh(schedule)
    assert schedule.next_run_at == utc(2027, 3, 5, 8, 0)  # the next future occurrence
    assert ScheduledExportRunner().run_due_schedules(now)["due"] == 0


def test_not_due_and_inactive_schedules_do_not_run(shop):
    now = utcnow()
    make_schedule(shop.business, next_run_at=now + timedelta(minutes=5))
    make_schedule(shop.business, next_run_at=now - timedelta(minutes=5), is_active=False)
    make_schedule(shop.business, next_run_at=None)
    assert ScheduledExportRunner().run_due_schedules(now)["due"] == 0
    assert histories() == []


def test_an_occurrence_that_already_ran_is_never_run_twice(shop):
    due_at = utc(2027, 3, 1, 8, 0)
    schedule = make_schedule(shop.business, next_run_at=due_at)
    db.session.add(
        ExportHistory(
            business_id=shop.business.id,
            schedule_id=schedule.id,
            export_type="INVENTORY",
            format="csv",
            trigger="SCHEDULED",
            status="COMPLETED",
            occurrence_at=due_at,
        )
    )
    db.session.commit()
    summary = ScheduledExportRunner().run_due_schedules(utc(2027, 3, 1, 8, 1))
    assert summary["duplicates"] == 1 and summary["claimed"] == 0
    assert len(histories()) == 1
    db.session.refresh(schedule)
    assert schedule.next_run_at == utc(2027, 3, 2, 8, 0)


def test_a_schedule_with_an_impossible_timing_fails_truthfully(shop):
    schedule = make_schedule(shop.business, next_run_at=utc(2027, 3, 1, 8, 0))
    db.session.execute(update(ExportSchedule).values(timezone="Mars/Olympus_Mons"))
    db.session.commit()
    summary = ScheduledExportRunner().run_due_schedules(utc(2027, 3, 1, 9, 0))
    assert summary["invalid"] == 1
    [run] = histories()
    assert run.status == "FAILED" and "timing is not valid" in run.error_message
    db.session.refresh(schedule)
    assert schedule.next_run_at is None


def test_export_that_raises_is_recorded_and_retried_with_backoff(app, shop):
    app.config.update(EXPORT_RETRY_BASE_SECONDS=300, EXPORT_MAX_RETRIES=3)
    schedule = make_schedule(
        shop.business, export_type="SALES", filters=BAD_SALES_FILTERS, next_run_at=utc(2027, 3, 1, 8, 0)
    )
    runner = ScheduledExportRunner()
    runner.run_due_schedules(utc(2027, 3, 1, 8, 0, 30))
    [first] = histories()
    assert first.status == "FAILED"
    assert first.error_message.startswith("The export's settings are not valid")
    assert "Traceback" in first.error_traceback
    assert first.file_path == "" and first.claim_token is None
    delay = (first.next_retry_at - first.completed_at).total_seconds()
    assert 270 <= delay <= 330  # base x 2^0, +/- 10 %
    db.session.refresh(schedule)
    assert schedule.next_run_at == utc(2027, 3, 2, 8, 0)  # timing advanced all the same

    # The retry waits for its time; then exactly one is made, whoever asks how often.
    attempts = [first]
    for attempt in (2, 3, 4):
        previous = attempts[-1]
        assert runner.retry_failed_exports(previous.next_retry_at - timedelta(seconds=1))["retried"] == 0
        summary = runner.retry_failed_exports(previous.next_retry_at)
        assert summary["retried"] == 1
        assert runner.retry_failed_exports(previous.next_retry_at)["retried"] == 0
        retry = histories(retry_of_id=previous.id)[0]
        assert retry.attempt == attempt and retry.trigger == "SCHEDULED"
        assert retry.schedule_id == schedule.id and retry.filters_applied == previous.filters_applied
        assert retry.status == "FAILED"
        if attempt <= 3:
            expected = 300 * 2 ** (attempt - 1)
            delay = (retry.next_retry_at - retry.completed_at).total_seconds()
            assert expected * 0.9 <= delay <= expected * 1.1
        attempts.append(retry)
    # attempt 4 (the third retry) was the last one
    assert attempts[-1].next_retry_at is None
    far = attempts[-1].completed_at + timedelta(hours=2)
    assert runner.retry_failed_exports(far)["candidates"] == 0
    assert len(histories()) == 4


@pytest.mark.nodb
def test_retry_delay_is_exponential_with_jitter():
    for attempt, expected in ((1, 300), (2, 600), (3, 1200)):
        delays = [retry_delay_seconds(attempt, 300) for _ in range(200)]
        assert all(expected * 0.9 <= d <= expected * 1.1 for d in delays)
        assert max(delays) - min(delays) > expected * 0.05  # there is jitter


def test_failures_older_than_a_day_and_manual_failures_are_not_retried(app, shop):
    runner = ScheduledExportRunner()
    schedule = make_schedule(shop.business, export_type="SALES", filters=BAD_SALES_FILTERS, next_run_at=None)
    manual = runs.trigger_schedule(schedule, shop.manager, "MANUAL")
    assert manual.status == "FAILED" and manual.next_retry_at is None
    old = ExportHistory(
        business_id=shop.business.id,
        schedule_id=schedule.id,
        export_type="SALES",
        format="csv",
        trigger="SCHEDULED",
        status="FAILED",
        created_at=utcnow() - timedelta(hours=25),
        next_retry_at=utcnow() - timedelta(hours=24),
    )
    db.session.add(old)
    db.session.commit()
    assert runner.retry_failed_exports()["candidates"] == 0


def test_retry_is_skipped_when_the_schedule_was_deactivated(app, shop):
    make_schedule(
        shop.business, export_type="SALES", filters=BAD_SALES_FILTERS, next_run_at=utc(2027, 3, 1, 8, 0)
    )
    runner = ScheduledExportRunner()
    runner.run_due_schedules(utc(2027, 3, 1, 8, 0, 30))
    [failed] = histories()
    db.session.execute(update(ExportSchedule).values(is_active=False))
    db.session.commit()
    summary = runner.retry_failed_exports(failed.next_retry_at)
    assert summary["skipped"] == 1 and summary["retried"] == 0
    assert histories(id=failed.id)[0].next_retry_at is None


def test_storage_failure_fails_the_run_and_leaves_no_file(app, shop, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should be")
    app.config["EXPORT_ROOT"] = str(blocker)
    schedule = make_schedule(shop.business, next_run_at=utc(2027, 3, 1, 8, 0))
    ScheduledExportRunner().run_due_schedules(utc(2027, 3, 1, 8, 0, 5))
    [run] = histories()
    assert run.status == "FAILED"
    assert run.error_message == "The export file could not be saved: the export folder is not a folder."
    assert run.file_path == "" and run.next_retry_at is not None
    db.session.refresh(schedule)
    assert schedule.next_run_at == utc(2027, 3, 2, 8, 0)


def test_trigger_runs_inactive_schedule_sets_last_run_keeps_next_run(shop):
    next_run = utc(2030, 1, 1, 8, 0)
    schedule = make_schedule(shop.business, shop.owner, is_active=False, next_run_at=next_run)
    history = runs.trigger_schedule(
        schedule, shop.manager, "API", send_email=False, override_recipients=["boss@example.com"]
    )
    assert history.status == "COMPLETED" and history.trigger == "API"
    assert history.user_id == shop.manager.id and history.schedule_id == schedule.id
    assert history.send_email is False and history.override_recipients == ["boss@example.com"]
    db.session.refresh(schedule)
    assert schedule.next_run_at == next_run and schedule.last_run_at is not None
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.trigger"))
    assert entry.user_id == shop.manager.id and entry.entity_id == str(schedule.id)
    assert str(history.id) in entry.details


def test_rerun_covers_the_same_period(shop):
    schedule = make_schedule(
        shop.business, export_type="SALES", filters={"date_range": "previous_month"}, next_run_at=None
    )
    original = runs.trigger_schedule(schedule, shop.owner, "MANUAL")
    assert original.status == "COMPLETED", original.error_message
    applied = original.filters_applied
    assert applied["date_range"] == "previous_month" and applied["start_date"] and applied["end_date"]
    # Pretend the original ran long ago: the rerun must cover ITS period, not last month's.
    pinned = dict(applied, start_date="2020-01-01", end_date="2020-01-31")
    original.filters_applied = pinned
    db.session.commit()

    rerun = runs.rerun(original, shop.manager, "API")

    assert rerun.id != original.id and rerun.status == "COMPLETED", rerun.error_message
    assert rerun.attempt == 1 and rerun.retry_of_id is None and rerun.trigger == "API"
    assert rerun.schedule_id == schedule.id and rerun.export_type == "SALES"
    assert rerun.filters_applied["start_date"] == "2020-01-01"
    assert rerun.filters_applied["end_date"] == "2020-01-31"
    assert rerun.filters_applied["date_range"] == "previous_month"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.rerun"))
    assert entry.entity_id == str(original.id) and str(rerun.id) in entry.details


def test_one_off_export(shop):
    history = runs.start_one_off_export(
        shop.business,
        shop.manager,
        "INVENTORY",
        "excel",
        {"exclude_zero_value": True},
        ["a@example.com"],
        "API",
    )
    # COMPLETED, or EMAILED once the delivery code has handed the mail over
    assert history.status in ("COMPLETED", "EMAILED"), history.error_message
    assert history.schedule_id is None and history.file_name.endswith(".xlsx")
    assert history.override_recipients == ["a@example.com"] and history.send_email is True
    assert history.filters_applied == {"exclude_zero_value": True}
    assert history.record_count == 24  # product 0 has no stock
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.one_off"))
    assert entry.entity_id == str(history.id)


def test_execute_schedule_runs_in_this_thread(shop):
    schedule = make_schedule(shop.business, next_run_at=None)
    history = ScheduledExportRunner().execute_schedule(schedule, "MANUAL", user=shop.owner)
    assert history.status == "COMPLETED" and history.record_count == 25


def test_skip_if_empty_completes_with_zero_records(shop):
    schedule = make_schedule(
        shop.business,
        export_type="SALES",
        filters={"start_date": "2001-01-01", "end_date": "2001-01-31"},
        skip_if_empty=True,
        recipients=["someone@example.com"],
        next_run_at=None,
    )
    history = runs.trigger_schedule(schedule, shop.owner, "MANUAL")
    assert history.status == "COMPLETED" and history.record_count == 0
    assert history.email_sent is False


def _processing(business, *, trigger="SCHEDULED", heartbeat, token="t-1", attempt=1):
    history = ExportHistory(
        business_id=business.id,
        export_type="INVENTORY",
        format="csv",
        trigger=trigger,
        status="PROCESSING",
        started_at=heartbeat,
        heartbeat_at=heartbeat,
        claim_token=token,
        attempt=attempt,
    )
    db.session.add(history)
    db.session.commit()
    return history


def test_stale_runs_fail_and_are_retried_fresh_ones_are_left(app, shop):
    app.config.update(EXPORT_STALE_SECONDS=60)
    now = utcnow()
    stale = _processing(shop.business, heartbeat=now - timedelta(seconds=61))
    stale_manual = _processing(shop.business, trigger="MANUAL", heartbeat=now - timedelta(hours=2))
    fresh = _processing(shop.business, heartbeat=now - timedelta(seconds=30))
    summary = ScheduledExportRunner().recover_stale_runs(now)
    assert summary["stale_failed"] == 2
    db.session.expire_all()
    assert stale.status == "FAILED" and stale.error_message == INTERRUPTED_MESSAGE
    assert stale.claim_token is None and stale.completed_at == now
    assert stale.next_retry_at is not None and stale_manual.next_retry_at is None
    assert fresh.status == "PROCESSING" and fresh.claim_token == "t-1"


def test_pending_runs_left_behind_are_dispatched_however_old(shop):
    """Waiting never fails a run (issue 15): a PENDING run 30 h old is run, not marked FAILED
    "never started" as it was before fair queuing (this test failed on that code)."""
    now = utcnow()
    lost = ExportHistory(
        business_id=shop.business.id,
        export_type="INVENTORY",
        format="csv",
        trigger="MANUAL",
        created_at=now - timedelta(hours=1),
    )
    ancient = ExportHistory(
        business_id=shop.business.id,
        export_type="INVENTORY",
        format="csv",
        trigger="MANUAL",
        created_at=now - timedelta(hours=30),
    )
    db.session.add_all([lost, ancient])
    db.session.commit()
    summary = jobs.check_and_run_scheduled_exports(now)
    assert summary["expired_pending"] == 0 and summary["started"] == 2
    db.session.expire_all()
    assert lost.status == "COMPLETED"
    assert ancient.status == "COMPLETED" and ancient.error_message != NEVER_STARTED_MESSAGE


def test_a_worker_that_lost_its_claim_writes_nothing(app, shop):
    # A worker claimed the run, then was declared stale: its claim token no longer matches.
    history = _processing(shop.business, heartbeat=utcnow() - timedelta(hours=1), token="old-token")
    ScheduledExportRunner().recover_stale_runs()
    status = _Run(history.id, "old-token").execute()
    assert status is None
    db.session.expire_all()
    assert history.status == "FAILED" and history.error_message == INTERRUPTED_MESSAGE
    assert history.file_path == "" and history.progress == 0
    root = get_storage().root
    assert not root.exists() or not list(root.rglob(f"*{history.id}*"))


def test_a_run_is_claimed_once(shop):
    history = ExportHistory(business_id=shop.business.id, export_type="INVENTORY", format="csv")
    db.session.add(history)
    db.session.commit()
    runner = ScheduledExportRunner()
    assert runner.run_history(history.id) == "COMPLETED"
    assert runner.run_history(history.id) is None  # not PENDING any more
    assert runner.run_history(uuid.uuid4()) is None


def test_schedule_deleted_before_its_claimed_run_starts(app, shop):
    app.config["EXPORT_SYNC"] = False  # claim now, run later on the pool
    schedule = make_schedule(shop.business, next_run_at=utc(2027, 3, 1, 8, 0))
    runner = ScheduledExportRunner()
    summary = runner.claim_due_schedules(utc(2027, 3, 1, 8, 0, 1))
    assert summary["claimed"] == 1
    db.session.delete(schedule)
    db.session.commit()
    app.config["EXPORT_SYNC"] = True
    runner.dispatch_pending()
    [run] = histories()
    assert run.status == "COMPLETED" and run.schedule_id is None
    assert run.schedule_name == "Nightly inventory"


@pytest.mark.nodb
def test_error_descriptions_are_plain():
    from dashboard.core.errors import ValidationError
    from dashboard.storage import StorageError

    assert describe_error(ValidationError({"filters.start_date": ["Enter a real date."]})).startswith(
        "The export's settings are not valid: filters.start_date"
    )
    assert describe_error(StorageError("The export file could not be saved: x.")) == (
        "The export file could not be saved: x."
    )
    assert describe_error(OSError(28, "No space left on device")) == (
        "The export file could not be written: the disk is full."
    )
    assert describe_error(RuntimeError("boom")) == "The export failed: boom"


def test_cli_run_due_and_retry_failed_print_one_line(runner, shop):
    make_schedule(shop.business, next_run_at=utcnow() - timedelta(seconds=5))
    result = runner.invoke(args=["exports", "run-due"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("run-due: 1 due, 1 claimed") and result.output.count("\n") == 1
    result = runner.invoke(args=["exports", "retry-failed"])
    assert result.exit_code == 0 and result.output.startswith("retry-failed: 0 candidates")
    result = runner.invoke(args=["exports", "send-summaries"])
    assert result.exit_code == 0 and result.output.startswith("send-summaries")


def test_cleanup_job_removes_work_folders_of_killed_runs(app, tmp_path):
    import os
    import time

    app.config["EXPORT_WORK_DIR"] = str(tmp_path)
    old = tmp_path / "export-run-123-abc"
    old.mkdir()
    (old / "half.xlsx").write_bytes(b"PK")
    fresh = tmp_path / "export-run-456-def"
    fresh.mkdir()
    unrelated = tmp_path / "something-else"
    unrelated.mkdir()
    long_ago = time.time() - 7 * 3600
    for folder in (old, unrelated):
        os.utime(folder, (long_ago, long_ago))
    summary = jobs.cleanup_old_exports()
    assert summary["work_dirs_removed"] == 1
    assert not old.exists() and fresh.exists() and unrelated.exists()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 KB tmpfs: a real full disk (needs root; skipped where mounting is not allowed)."""
    import subprocess

    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mountpoint)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=False)


def test_full_disk_fails_the_run_truthfully_and_leaves_nothing(app, shop, tiny_disk):
    from tests.automation.runner_helpers import add_products

    add_products(shop.business, 600, start=100)  # a CSV of ~40 KB: more than the disk holds
    app.config["EXPORT_ROOT"] = str(tiny_disk)
    schedule = make_schedule(shop.business, next_run_at=utc(2027, 3, 1, 8, 0))
    ScheduledExportRunner().run_due_schedules(utc(2027, 3, 1, 8, 0, 5))
    [run] = histories()
    assert run.status == "FAILED"
    assert run.error_message == (
        "The export file could not be saved: the disk is full or the file is too large for the storage."
    )
    assert run.file_path == "" and run.next_retry_at is not None
    assert [p for p in tiny_disk.rglob("*") if p.is_file()] == []  # no partial file left behind
    db.session.refresh(schedule)
    assert schedule.next_run_at == utc(2027, 3, 2, 8, 0)


# ---- the claim's two paths: one statement per batch (PostgreSQL), one transaction per schedule --


def _claimed_row(history: ExportHistory) -> dict:
    skip = {"id", "created_at"}
    return {c.key: getattr(history, c.key) for c in ExportHistory.__table__.columns if c.key not in skip}


def test_a_claimed_run_is_the_same_row_whichever_path_wrote_it(app, shop):
    """PostgreSQL claims a batch in one statement (every column written from JSON); SQLite, and
    a schedule whose timing cannot be computed, go one by one. The PENDING runs they write must
    not differ in any column."""
    now = utcnow()
    due_at = now - timedelta(minutes=1)
    first = make_schedule(shop.business, shop.owner, next_run_at=due_at, name="First")
    second = make_schedule(shop.business, shop.owner, next_run_at=due_at, name="Second")
    runner = ScheduledExportRunner()
    # The batch path (the dialect's own) for the first, the one-by-one path for the second.
    db.session.execute(update(ExportSchedule).where(ExportSchedule.id == second.id).values(is_active=False))
    db.session.commit()
    assert runner.claim_due_schedules(now)["claimed"] == 1
    db.session.execute(update(ExportSchedule).where(ExportSchedule.id == second.id).values(is_active=True))
    db.session.commit()
    row = db.session.execute(select(*POLL_COLUMNS).where(ExportSchedule.id == second.id)).one()
    db.session.rollback()
    with db.engine.connect() as connection:
        assert runner._claim_one(connection, row, now) == "claimed"
    one, two = sorted(histories(), key=lambda h: h.schedule_name)
    assert one.schedule_name == "First" and two.schedule_name == "Second"
    first_row, second_row = _claimed_row(one), _claimed_row(two)
    for key in ("schedule_id", "schedule_name"):
        first_row.pop(key), second_row.pop(key)
    assert first_row == second_row
    assert abs((one.created_at - two.created_at).total_seconds()) < 60
    db.session.refresh(first)
    db.session.refresh(second)
    assert first.next_run_at == second.next_run_at > now and first.last_run_at == second.last_run_at == now


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL only: the batch claim's row locks")
def test_a_schedule_another_transaction_holds_is_left_for_the_next_poll(app, shop):
    """SKIP LOCKED: a poller never waits on (nor deadlocks with) another one; what it skips is
    claimed at the next poll, once."""
    now = utcnow()
    due_at = now - timedelta(minutes=1)
    held = make_schedule(shop.business, shop.owner, next_run_at=due_at, name="Held")
    make_schedule(shop.business, shop.owner, next_run_at=due_at, name="Free")
    runner = ScheduledExportRunner()
    with db.engine.connect() as other:
        other.execute(select(ExportSchedule.id).where(ExportSchedule.id == held.id).with_for_update())
        summary = runner.claim_due_schedules(now)
        other.rollback()
    assert (summary["claimed"], summary["lost"]) == (1, 1)
    assert [h.schedule_name for h in histories()] == ["Free"]
    assert runner.claim_due_schedules(now)["claimed"] == 1
    assert runner.claim_due_schedules(now)["due"] == 0
    assert sorted(h.schedule_name for h in histories()) == ["Free", "Held"]
