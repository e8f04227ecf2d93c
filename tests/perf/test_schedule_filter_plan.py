"""The history's schedule filter (page, cursor page and count) is answered from
ix_export_history_schedule_created alone: no sort, no table read per run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from dashboard.extensions import db
from dashboard.models import ExportHistory
from dashboard.services.history import ListedRun, count_history, list_runs_query, runs_page
from tests.api.conftest import make_schedule

INDEX = "ix_export_history_schedule_created"


def _plan(statement) -> str:
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    sql = str(compiled)
    if db.engine.dialect.name == "sqlite":
        return "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    db.session.execute(text("ANALYZE export_history"))
    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: ask what it would use
    return "\n".join(row[0] for row in db.session.execute(text(f"EXPLAIN {sql}")))


@pytest.fixture
def schedule_runs(tenant):
    schedules = [make_schedule(tenant.business, tenant.owner, name=f"S{n}") for n in range(3)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "business_id": tenant.business.id,
            "schedule_id": schedules[n % 3].id,
            "export_type": "SALES",
            "format": "csv",
            "trigger": "SCHEDULED",
            "status": "COMPLETED",
            "created_at": start + timedelta(minutes=n),
        }
        for n in range(90)
    ]
    db.session.execute(insert(ExportHistory), rows)
    db.session.commit()
    return tenant, schedules[0]


def test_the_schedule_filter_reads_its_index_without_sorting(schedule_runs):
    tenant, schedule = schedule_runs
    filters = {"schedule_id": schedule.id}
    stmt = list_runs_query(tenant.business, filters).limit(21)
    plan = _plan(stmt)
    assert INDEX in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    page = runs_page(
        list_runs_query(tenant.business, filters), 1, None, 20, count_history(tenant.business, filters)
    )
    assert len(page.items) == 20 and {ListedRun(row).schedule_id for row in page.items} == {schedule.id}
    # The next page by cursor reads the same index from its position.
    after = runs_page(list_runs_query(tenant.business, filters), 1, page.next, 20, 30)
    assert len(after.items) == 10 and not set(r.id for r in after.items) & set(r.id for r in page.items)
    assert count_history(tenant.business, filters) == 30
