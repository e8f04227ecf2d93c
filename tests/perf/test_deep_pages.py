"""Deep pages (read by id first, from the covering index) give the same rows, in the same order,
as the plain LIMIT/OFFSET query; and a claim's relaxed durability never leaks into the pool."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from dashboard.automation.claiming import claim_durability
from dashboard.extensions import db
from dashboard.models import ExportHistory
from dashboard.services.history import ListedRun, history_query, list_runs_query, runs_page
from dashboard.services.pages import DEFERRED_JOIN_OFFSET, page_items, paginate
from dashboard.services.presenters import history_to_dict
from tests.perf.test_query_counts import counted

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ROWS = DEFERRED_JOIN_OFFSET + 60


@pytest.fixture
def many_runs(tenant, other_tenant):
    rows = []
    for business in (tenant.business, other_tenant.business):
        for n in range(ROWS):
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "business_id": business.id,
                    "export_type": ("SALES", "CUSTOMERS")[n % 2],
                    "format": ("csv", "excel", "pdf")[n % 3],
                    "trigger": "MANUAL",
                    "status": ("COMPLETED", "FAILED", "EMAILED")[n % 3],
                    # Pairs of runs share a created_at: the id breaks the tie, in both steps.
                    "created_at": NOW - timedelta(hours=n // 2),
                }
            )
    db.session.execute(insert(ExportHistory), rows)
    db.session.commit()
    return tenant


@pytest.mark.parametrize(
    "filters",
    [{}, {"export_type": "SALES"}, {"status": "FAILED", "format": "pdf"}, {"start_date": date(2026, 2, 25)}],
)
def test_a_deep_page_matches_the_plain_query(many_runs, filters):
    stmt = history_query(many_runs.business, filters)
    everything = [h.id for h in db.session.scalars(stmt)]
    for offset in (0, DEFERRED_JOIN_OFFSET - 10, DEFERRED_JOIN_OFFSET, DEFERRED_JOIN_OFFSET + 25, 10_000):
        expected = everything[offset : offset + 20]
        assert [h.id for h in page_items(stmt, 20, offset)] == expected, (filters, offset)
        plain = [h.id for h in db.session.scalars(stmt.limit(20).offset(offset))]
        assert plain == expected


@pytest.mark.parametrize("filters", [{}, {"trigger": "MANUAL"}, {"start_date": date(2026, 2, 25)}])
def test_a_deep_run_list_page_finds_its_ids_in_export_history_alone(many_runs, filters):
    """The lists' rows name their person and schedule (joins); the ids of a deep page are read
    without those joins, which PostgreSQL kept beside the kept count's one-time filter and read
    every skipped run from the table for (17 ms at page 500 of a large business; 1.7 ms now)."""
    stmt = list_runs_query(many_runs.business, filters)
    everything = [row[0] for row in db.session.execute(stmt)]
    page = DEFERRED_JOIN_OFFSET // 20 + 2
    assert len(everything) > page * 20
    with counted() as statements:
        found = runs_page(stmt, page, None, 20, len(everything))
    assert [row[0] for row in found.items] == everything[(page - 1) * 20 : page * 20], filters
    (ids_read,) = [s for s in statements if "OFFSET" in s]
    assert ids_read.split("FROM", 1)[0].split() == ["SELECT", "export_history.id"]
    assert "JOIN" not in ids_read.upper()


def test_paginate_a_deep_page(many_runs):
    page = DEFERRED_JOIN_OFFSET // 20 + 2
    result = paginate(history_query(many_runs.business), page, 20, lambda n: f"/?page={n}")
    assert result["count"] == ROWS and len(result["results"]) == 20
    assert result["previous"] == f"/?page={page - 1}"
    assert all(h.business_id == many_runs.business.id for h in result["results"])


def test_claims_commit_without_waiting_for_the_wal_and_give_the_setting_back(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip(
            "synchronous_commit is PostgreSQL's; SQLite's WAL + synchronous=NORMAL is set per connection"
        )
    with db.engine.connect() as connection:
        with claim_durability(connection):
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
            connection.rollback()
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        connection.rollback()
        with pytest.raises(RuntimeError), claim_durability(connection):
            raise RuntimeError("a claim failed half way")
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


@pytest.mark.parametrize(
    "filters, offsets",
    [({}, (0, DEFERRED_JOIN_OFFSET + 25)), ({"status": "FAILED", "export_type": "CUSTOMERS"}, (0, 20))],
)
def test_listed_rows_are_the_runs_the_orm_lists(many_runs, filters, offsets, factory):
    """The lists read plain rows (`list_runs_query`, `ListedRun`); a page of them presents exactly
    as the same page of ExportHistory objects does, deep pages and joined names included."""
    user = factory.user(many_runs.business, role="manager", name="Lister")
    db.session.execute(
        update(ExportHistory)
        .where(
            ExportHistory.business_id == many_runs.business.id,
            ExportHistory.created_at < NOW - timedelta(hours=100),
        )
        .values(user_id=user.id)
    )
    db.session.commit()
    orm = history_query(many_runs.business, filters)
    rows = list_runs_query(many_runs.business, filters)
    seen = []
    for offset in offsets:
        listed = [history_to_dict(ListedRun(row)) for row in page_items(rows, 20, offset)]
        expected = [history_to_dict(h) for h in page_items(orm, 20, offset)]
        assert listed == expected and len(listed) == 20, (filters, offset)
        seen += listed
    assert any(item["user_name"] == "Lister" for item in seen)  # the joined name, read as a row
