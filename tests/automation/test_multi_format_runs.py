"""A run of several formats through the runner: the claimed occurrence (the PostgreSQL batch claim
too), reruns and retries keep the formats, a failure stores none of the files, retention deletes
them all."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from dashboard.automation import jobs
from dashboard.automation.runner import ScheduledExportRunner
from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportRunFile
from dashboard.services import runs
from dashboard.storage import get_storage
from tests.automation.runner_helpers import histories, make_schedule, utc


def _files(history_id) -> list[ExportRunFile]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ExportRunFile)
            .where(ExportRunFile.history_id == history_id)
            .order_by(ExportRunFile.position)
        )
    )


def test_a_due_schedule_of_two_formats_makes_two_files_once(shop):
    make_schedule(shop.business, format="csv", formats=["csv", "excel"], next_run_at=utc(2027, 3, 1, 8, 0))
    summary = ScheduledExportRunner().run_due_schedules(utc(2027, 3, 1, 8, 0, 5))
    assert summary["claimed"] == 1
    [run] = histories()
    assert run.status == "COMPLETED", run.error_message
    assert run.formats == ["csv", "excel"] and run.format == "csv"
    files = _files(run.id)
    assert [(f.format, f.position) for f in files] == [("csv", 0), ("excel", 1)]
    assert (run.file_name, run.file_path, run.file_size) == (
        files[0].file_name,
        files[0].file_path,
        files[0].file_size,
    )
    storage = get_storage()
    assert all(storage.exists(f.file_path) and storage.size(f.file_path) == f.file_size for f in files)

    again = runs.rerun(run, shop.owner)
    assert again.formats == ["csv", "excel"] and len(_files(again.id)) == 2


def test_a_failed_run_of_two_formats_keeps_no_file_and_its_retry_keeps_the_formats(app, shop, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should be")
    app.config["EXPORT_ROOT"] = str(blocker)
    make_schedule(shop.business, format="pdf", formats=["pdf", "csv"], next_run_at=utc(2027, 3, 1, 8, 0))
    runner = ScheduledExportRunner()
    runner.run_due_schedules(utc(2027, 3, 1, 8, 0, 5))
    [failed] = histories()
    assert failed.status == "FAILED" and failed.failure_category == "storage" and _files(failed.id) == []
    app.config["EXPORT_ROOT"] = str(tmp_path / "exports-now")
    assert runner.retry_failed_exports(failed.next_retry_at)["retried"] == 1
    [retry] = histories(retry_of_id=failed.id)
    assert retry.status == "COMPLETED" and retry.formats == ["pdf", "csv"]
    assert [f.format for f in _files(retry.id)] == ["pdf", "csv"]


def test_retention_deletes_every_file_of_a_run(app, shop):
    schedule = make_schedule(shop.business, format="excel", formats=["excel", "csv", "pdf"], next_run_at=None)
    run = runs.trigger_schedule(schedule, shop.owner, send_email=False)
    paths = [f.file_path for f in _files(run.id)]
    assert len(paths) == 3 and all(paths)
    db.session.execute(
        update(ExportHistory)
        .where(ExportHistory.id == run.id)
        .values(created_at=run.created_at - timedelta(days=400))
    )
    db.session.commit()
    summary = jobs.cleanup_old_exports()
    assert summary["deleted_files"] == 1 and summary["extra_files_deleted"] == 2
    storage = get_storage()
    assert not any(storage.exists(path) for path in paths)
    assert [f.file_path for f in _files(run.id)] == ["", "", ""]
    db.session.refresh(run)
    assert run.file_path == "" and not run.is_downloadable


def test_history_retention_deletes_a_run_with_every_file(app, shop):
    from dashboard.ops.retention import apply_retention

    schedule = make_schedule(shop.business, format="csv", formats=["csv", "pdf"], next_run_at=None)
    run = runs.trigger_schedule(schedule, shop.owner, send_email=False)
    run_id = run.id
    paths = [f.file_path for f in _files(run_id)]
    assert len(paths) == 2 and all(paths)
    db.session.execute(
        update(ExportHistory)
        .where(ExportHistory.id == run_id)
        .values(created_at=run.created_at - timedelta(days=800))
    )
    db.session.commit()
    app.config["HISTORY_RETENTION_DAYS"] = 365
    summary = apply_retention()
    assert summary["history_deleted"] == 1 and summary["history_files_deleted"] == 2
    assert not any(get_storage().exists(path) for path in paths)
    assert _files(run_id) == []  # the run's file rows went with it
