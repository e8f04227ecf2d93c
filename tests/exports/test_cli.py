"""`flask exports run`: a file and a one-line summary, or exit 2 with a clear message."""

from __future__ import annotations

import json
import re

import pytest

from tests.exports.conftest import read_csv, sheet_values


@pytest.fixture(autouse=True)
def _stored_elsewhere(app, tmp_path_factory):
    """`flask exports run` is a history record whose file is kept like any run's: keep the app's
    EXPORT_ROOT out of the test's output folder, whose contents these tests check exactly."""
    app.config["EXPORT_ROOT"] = str(tmp_path_factory.mktemp("stored"))


def run(runner, *args):
    return runner.invoke(args=["exports", "run", *args])


def test_run_writes_the_file_and_a_summary(shop, runner, tmp_path):
    out = tmp_path / "sales.xlsx"
    result = run(
        runner,
        "--business", "Café Zoë & Co",
        "--type", "SALES",
        "--format", "excel",
        "--filters", json.dumps({"start_date": "2023-12-01", "end_date": "2024-03-31"}),
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Exported 5 records, ")
    assert str(out) in result.output and result.output.count("\n") == 1
    assert len(sheet_values(out)) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales.xlsx"]  # no temporary file left


def test_run_into_a_directory_uses_the_standard_name(shop, runner, tmp_path):
    result = run(
        runner,
        "--business",
        "Café Zoë & Co",
        "--type",
        "inventory",
        "--format",
        "CSV",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    [written] = list(tmp_path.iterdir())
    assert re.fullmatch(r"inventory_\d{4}-\d{2}-\d{2}\.csv", written.name)  # no period: the run's date
    assert len(read_csv(written)) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--business", "Nobody's Shop", "--type", "SALES", "--format", "csv"], "no business named"),
        (["--type", "REFUNDS", "--format", "csv"], "export_type"),
        (["--type", "SALES", "--format", "docx", "--filters", '{"date_range": "today"}'], "format"),
        (["--type", "SALES", "--format", "csv", "--filters", "{date_range: today}"], "not valid JSON"),
        (["--type", "SALES", "--format", "csv", "--filters", "[]"], "filters"),
        (["--type", "SALES", "--format", "csv"], "filters.date_range"),
        (
            ["--type", "SALES", "--format", "csv", "--filters", '{"date_range": "fortnight"}'],
            "Choose a date range",
        ),
        (
            ["--type", "CUSTOMERS", "--format", "csv", "--filters", '{"include_credit_history": "yes"}'],
            "true or false",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(shop, runner, tmp_path, args, message):
    if "--business" not in args:
        args = ["--business", "Café Zoë & Co", *args]
    result = run(runner, *args, "--out", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory(shop, runner, tmp_path):
    result = run(
        runner,
        "--business",
        "Café Zoë & Co",
        "--type",
        "INVENTORY",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "no" / "x.csv"),
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_run_is_a_manual_history_record_with_an_audit_entry(app, shop, runner, tmp_path):
    """Contract section 6: a CLI run is a history record with trigger MANUAL and an audit entry,
    its file stored like any run's (downloadable from history) and written where --out says."""
    from sqlalchemy import select

    from dashboard.extensions import db
    from dashboard.models import AuditLog, ExportHistory
    from dashboard.storage import get_storage

    out = tmp_path / "stock.csv"
    result = run(
        runner, "--business", "Café Zoë & Co", "--type", "INVENTORY", "--format", "csv", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    [history] = db.session.scalars(select(ExportHistory)).all()
    assert (history.trigger, history.status, history.user_id) == ("MANUAL", "COMPLETED", None)
    assert history.export_type == "INVENTORY" and history.format == "csv"
    assert history.send_email is False and history.schedule_id is None
    assert str(history.id) in result.output
    assert history.is_downloadable and history.record_count == len(read_csv(out)) - 1
    with get_storage().get_export_file(history.file_path) as stored:
        assert stored.read() == out.read_bytes()
    [entry] = db.session.scalars(select(AuditLog).where(AuditLog.action == "export.one_off")).all()
    assert entry.entity_id == str(history.id) and entry.business_id == history.business_id
    assert '"via": "cli"' in entry.details and '"trigger": "MANUAL"' in entry.details


def test_a_failed_run_exits_2_and_keeps_its_failed_record(app, shop, runner, tmp_path):
    from sqlalchemy import select

    from dashboard.extensions import db
    from dashboard.models import ExportHistory

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should be")
    app.config["EXPORT_ROOT"] = str(blocker)
    result = run(
        runner,
        "--business",
        "Café Zoë & Co",
        "--type",
        "INVENTORY",
        "--format",
        "csv",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 2 and "the export failed" in result.output
    assert "Traceback" not in result.output
    db.session.expire_all()
    [history] = db.session.scalars(select(ExportHistory)).all()
    assert history.status == "FAILED" and history.trigger == "MANUAL"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]
