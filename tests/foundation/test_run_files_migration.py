"""Migration c5f2a8d4e6b9: the runs recorded before a run could own several files keep theirs, moved
into export_run_files, on SQLite and PostgreSQL (the real `flask db upgrade` from the previous head,
with rows present)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, select

from dashboard.models import Business, ExportHistory, ExportRunFile
from tests.automation.runner_helpers import empty_database as migrated_database
from tests.automation.runner_helpers import flask_db, table_as_migrated

BEFORE = "c4e8a1f6d2b9"  # the schema before run files


@pytest.fixture
def empty_database(tmp_path):
    with migrated_database(tmp_path, "_files_mig") as url:
        yield url


def _run(business_id, **values) -> dict:
    return {
        "id": uuid.uuid4(),
        "business_id": business_id,
        "export_type": "SALES",
        "format": "csv",
        "trigger": "SCHEDULED",
        "status": "COMPLETED",
        "created_at": datetime(2026, 11, 1, 7, tzinfo=UTC),
        **values,
    }


def test_existing_runs_keep_their_file_as_their_first_run_file(tmp_path, empty_database):
    url = empty_database
    flask_db(tmp_path, url, "upgrade", BEFORE)
    engine = create_engine(url)
    shop_id = uuid.uuid4()
    emailed = _run(
        shop_id,
        status="EMAILED",
        format="excel",
        file_name="sales_2026-10-31.xlsx",
        file_size=48213,
        file_path=f"exports/{shop_id}/2026/11/x_sales_2026-10-31.xlsx",
    )
    cleaned = _run(shop_id, file_name="sales_2026-09-30.csv", file_size=912, file_path="")  # retention ran
    failed = _run(shop_id, status="FAILED", error_message="The export failed.")
    old_history = table_as_migrated(engine, ExportHistory.__table__)
    with engine.begin() as connection:
        connection.execute(
            insert(table_as_migrated(engine, Business.__table__)),
            [{"id": shop_id, "name": "Old Shop", "timezone": "UTC", "currency": "USD"}],
        )
        for run in (emailed, cleaned, failed):
            connection.execute(insert(old_history), [run])

    flask_db(tmp_path, url, "upgrade")
    flask_db(tmp_path, url, "check")  # the models and the migrated schema agree

    with engine.begin() as connection:
        moved = connection.execute(
            select(
                ExportRunFile.history_id,
                ExportRunFile.business_id,
                ExportRunFile.format,
                ExportRunFile.position,
                ExportRunFile.file_name,
                ExportRunFile.file_size,
                ExportRunFile.file_path,
            ).order_by(ExportRunFile.file_size)
        ).all()
        assert [tuple(row) for row in moved] == [
            (cleaned["id"], shop_id, "csv", 0, "sales_2026-09-30.csv", 912, ""),
            (emailed["id"], shop_id, "excel", 0, "sales_2026-10-31.xlsx", 48213, emailed["file_path"]),
        ]
        # The runs keep their own file columns; `formats` is unset (just `format`).
        kept = connection.execute(
            select(ExportHistory.file_name, ExportHistory.formats).where(ExportHistory.id == emailed["id"])
        ).one()
        assert tuple(kept) == ("sales_2026-10-31.xlsx", None)

    # And back: the previous schema, its runs untouched.
    flask_db(tmp_path, url, "downgrade", BEFORE)
    with engine.begin() as connection:
        names = (
            connection.execute(select(ExportHistory.__table__.c.file_name).order_by("file_name"))
            .scalars()
            .all()
        )
    assert names == ["", "sales_2026-09-30.csv", "sales_2026-10-31.xlsx"]
    engine.dispose()
