"""History queries, pagination and statistics (SQL aggregates), scoped to one business."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import event

from dashboard.core.errors import PageNotFound
from dashboard.extensions import db
from dashboard.services.history import get_history, history_query, recent_history
from dashboard.services.pages import paginate
from dashboard.services.presenters import history_to_dict, schedule_to_dict
from dashboard.services.schedules import create_schedule
from dashboard.services.statistics import statistics
from dashboard.services.validation import validate_history_params
from tests.services.service_helpers import add_run, utc, valid_schedule

MB = 1024 * 1024
NOW = utc(2024, 3, 15, 12, 0)


def ids(stmt) -> list:
    return [r.id for r in db.session.scalars(stmt)]


# --------------------------------------------------------------------------------------------
# Lists and filters


def test_history_date_filters_use_the_business_timezone(tenant_in):
    shop = tenant_in("New York Shop", "America/New_York")  # EDT (UTC-4) from 10 March 2024
    before = add_run(shop.business, created_at=utc(2024, 3, 15, 3, 59))  # 14 Mar 23:59 local
    first = add_run(shop.business, created_at=utc(2024, 3, 15, 4, 0))  # 15 Mar 00:00
    last = add_run(shop.business, created_at=utc(2024, 3, 16, 3, 59, 59))  # 15 Mar 23:59:59
    after = add_run(shop.business, created_at=utc(2024, 3, 16, 4, 0))  # 16 Mar 00:00
    one_day = {"start_date": date(2024, 3, 15), "end_date": date(2024, 3, 15)}
    assert ids(history_query(shop.business, one_day)) == [last.id, first.id]
    assert ids(history_query(shop.business, {"start_date": date(2024, 3, 15)})) == [
        after.id,
        last.id,
        first.id,
    ]
    assert ids(history_query(shop.business, {"end_date": date(2024, 3, 14)})) == [before.id]


def test_history_filters(shop):
    schedule = create_schedule(shop.business, shop.owner, valid_schedule(), now=NOW)
    a = add_run(
        shop.business, export_type="SALES", format="csv", status="FAILED", trigger="API", created_at=NOW
    )
    b = add_run(
        shop.business,
        export_type="CUSTOMERS",
        format="pdf",
        status="EMAILED",
        schedule_id=schedule.id,
        created_at=NOW - timedelta(hours=1),
    )
    params = validate_history_params
    assert ids(history_query(shop.business, params({}))) == [a.id, b.id]  # newest first
    assert ids(history_query(shop.business, params({"export_type": "customers"}))) == [b.id]
    assert ids(history_query(shop.business, params({"format": "csv"}))) == [a.id]
    assert ids(history_query(shop.business, params({"status": "FAILED"}))) == [a.id]
    assert ids(history_query(shop.business, params({"trigger": "SCHEDULED"}))) == [b.id]
    assert ids(history_query(shop.business, params({"schedule_id": str(schedule.id)}))) == [b.id]
    assert ids(history_query(shop.business, params({"schedule_id": str(uuid.uuid4())}))) == []


def test_history_is_scoped_to_the_business(shop, other_shop):
    mine = add_run(shop.business)
    theirs = add_run(other_shop.business)
    assert get_history(shop.business, mine.id) is mine
    assert get_history(shop.business, theirs.id) is None
    assert get_history(shop.business, "nonsense") is None
    assert ids(history_query(shop.business)) == [mine.id]
    assert recent_history(shop.business) == [mine]


def test_recent_history_limit(shop):
    runs = [add_run(shop.business, created_at=NOW - timedelta(minutes=i)) for i in range(12)]
    assert recent_history(shop.business) == runs[:10]
    assert recent_history(shop.business, limit=3) == runs[:3]


def test_history_dict_names_from_the_database(shop):
    schedule = create_schedule(shop.business, shop.owner, valid_schedule(name="Morning"), now=NOW)
    record = add_run(shop.business, schedule_id=schedule.id, user_id=shop.manager.id)
    data = history_to_dict(db.session.scalars(history_query(shop.business)).one())
    assert data["id"] == str(record.id)
    assert data["user_name"] == "Test Shop Manager" and data["user"] == str(shop.manager.id)
    assert data["schedule_name"] == "Morning" and data["schedule"] == str(schedule.id)
    assert schedule_to_dict(schedule, NOW)["created_by_name"] == "Test Shop Owner"


def test_date_filtered_history_uses_the_business_created_index(tenant_in):
    shop = tenant_in("Indexed", "Europe/London")
    stmt = history_query(shop.business, {"start_date": date(2024, 3, 1), "end_date": date(2024, 3, 31)})
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL plans tiny tables as scans")
    compiled = stmt.compile(db.engine)
    # A plan depends on the SQL only, not on the values bound to it.
    placeholders = (None,) * len(compiled.positiontup or ())
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", placeholders).all()
    assert any("ix_export_history_business_created" in row[-1] for row in plan), plan


# --------------------------------------------------------------------------------------------
# Pagination


def test_paginate(shop):
    for i in range(5):
        add_run(shop.business, created_at=NOW - timedelta(minutes=i))

    def url(page: int) -> str:
        return f"http://localhost/api/reports/automation/history/?page={page}&page_size=2"

    stmt = history_query(shop.business)
    first = paginate(stmt, 1, 2, url, history_to_dict)
    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["next"] == url(2) and first["previous"] is None
    assert isinstance(first["results"][0], dict)
    last = paginate(stmt, 3, 2, url)
    assert len(last["results"]) == 1 and last["next"] is None and last["previous"] == url(2)
    with pytest.raises(PageNotFound):
        paginate(stmt, 4, 2, url)
    assert paginate(stmt, 1, 500, url)["count"] == 5  # page_size clamped, not refused


def test_paginate_empty(shop):
    stmt = history_query(shop.business)
    assert paginate(stmt, 1, 20, str) == {"count": 0, "next": None, "previous": None, "results": []}
    with pytest.raises(PageNotFound):
        paginate(stmt, 2, 20, str)


# --------------------------------------------------------------------------------------------
# Statistics


@pytest.fixture
def known_runs(shop, other_shop):
    b = shop.business
    add_run(
        b,
        export_type="SALES",
        format="csv",
        status="COMPLETED",
        file_size=1 * MB,
        created_at=NOW - timedelta(hours=1),
    )
    add_run(
        b,
        export_type="SALES",
        format="excel",
        status="EMAILED",
        file_size=2 * MB,
        created_at=NOW - timedelta(days=2),
    )
    add_run(b, export_type="CUSTOMERS", format="pdf", status="FAILED", created_at=NOW - timedelta(days=3))
    add_run(
        b, export_type="INVENTORY", format="csv", status="PENDING", created_at=NOW - timedelta(minutes=10)
    )
    add_run(
        b, export_type="AUDIT_LOGS", format="csv", status="PROCESSING", created_at=NOW - timedelta(days=8)
    )
    add_run(b, export_type="SALES", format="pdf", status="FAILED", created_at=NOW - timedelta(days=10))
    add_run(
        b,
        export_type="SALES",
        format="csv",
        status="COMPLETED",
        file_size=MB // 2,
        created_at=NOW - timedelta(days=20),
    )
    # Another business's runs count for nobody else.
    add_run(other_shop.business, status="FAILED", created_at=NOW - timedelta(hours=1))
    return shop


def test_statistics_on_a_known_set(known_runs):
    stats = statistics(known_runs.business, NOW)
    daily = stats.pop("daily")
    assert stats == {
        "total_exports": 7,
        "successful_exports": 3,
        "failed_exports": 2,
        "success_rate": 60.0,
        "by_type": {
            "SALES": {"total": 4, "successful": 3, "failed": 1},
            "CUSTOMERS": {"total": 1, "successful": 0, "failed": 1},
            "INVENTORY": {"total": 1, "successful": 0, "failed": 0},
            "AUDIT_LOGS": {"total": 1, "successful": 0, "failed": 0},
        },
        "by_format": {
            "excel": {"total": 1, "successful": 1, "failed": 0},
            "csv": {"total": 4, "successful": 2, "failed": 0},
            "pdf": {"total": 2, "successful": 0, "failed": 2},
        },
        "recent_exports_7_days": 4,
        "average_file_size_mb": 1.17,  # (1 + 2 + 0.5) / 3, runs without a file left out
    }
    assert len(daily) == 30 and daily[0]["date"] == "2024-02-15" and daily[-1]["date"] == "2024-03-15"
    assert sum(d["total"] for d in daily) == 7
    by_date = {d["date"]: d for d in daily}
    assert by_date["2024-03-15"] == {"date": "2024-03-15", "total": 2, "successful": 1, "failed": 0}
    assert by_date["2024-03-05"] == {"date": "2024-03-05", "total": 1, "successful": 0, "failed": 1}


def test_statistics_since_limits_the_figures(known_runs):
    stats = statistics(known_runs.business, NOW, since=NOW - timedelta(days=7))
    assert (stats["total_exports"], stats["successful_exports"], stats["failed_exports"]) == (4, 2, 1)
    assert stats["by_type"]["SALES"] == {"total": 2, "successful": 2, "failed": 0}


def test_statistics_with_nothing_finished(shop):
    add_run(shop.business, status="PENDING", created_at=NOW)
    add_run(shop.business, status="PROCESSING", created_at=NOW)
    stats = statistics(shop.business, NOW)
    assert stats["total_exports"] == 2 and stats["success_rate"] is None
    assert (stats["successful_exports"], stats["failed_exports"]) == (0, 0)


def test_statistics_of_an_empty_business(shop):
    stats = statistics(shop.business, NOW)
    assert stats["total_exports"] == 0 and stats["success_rate"] is None
    assert stats["average_file_size_mb"] == 0.0 and stats["recent_exports_7_days"] == 0
    assert stats["by_type"]["SALES"] == {"total": 0, "successful": 0, "failed": 0}
    assert [d["total"] for d in stats["daily"]] == [0] * 30


def test_success_rate_rounds_to_one_decimal(shop):
    for status in ("COMPLETED", "EMAILED", "FAILED"):
        add_run(shop.business, status=status, created_at=NOW)
    assert statistics(shop.business, NOW)["success_rate"] == 66.7


def test_recent_means_the_last_seven_times_24_hours(shop):
    add_run(shop.business, created_at=NOW - timedelta(days=7) + timedelta(seconds=1))
    add_run(shop.business, created_at=NOW - timedelta(days=7) - timedelta(seconds=1))
    assert statistics(shop.business, NOW)["recent_exports_7_days"] == 1


def test_daily_is_per_local_day_across_midnight_and_dst(tenant_in):
    shop = tenant_in("New York Shop", "America/New_York")
    now = utc(2024, 3, 20, 12, 0)  # 08:00 EDT on 20 March; DST began on 10 March
    b = shop.business
    add_run(b, created_at=utc(2024, 2, 20, 4, 59))  # 19 Feb 23:59 EST: before the window
    add_run(b, created_at=utc(2024, 2, 20, 5, 0))  # 20 Feb 00:00 EST: the first day
    add_run(b, created_at=utc(2024, 3, 10, 4, 30))  # 9 Mar 23:30 EST
    add_run(b, created_at=utc(2024, 3, 10, 5, 30), status="FAILED")  # 10 Mar 00:30 EST
    add_run(b, created_at=utc(2024, 3, 10, 7, 30))  # 10 Mar 03:30 EDT
    add_run(b, created_at=utc(2024, 3, 20, 3, 59))  # 19 Mar 23:59 EDT
    add_run(b, created_at=utc(2024, 3, 20, 4, 0), status="PENDING")  # 20 Mar 00:00 EDT
    add_run(b, created_at=utc(2024, 3, 20, 11, 0))  # 20 Mar 07:00 EDT
    daily = statistics(b, now)["daily"]
    assert [d["date"] for d in daily] == [
        (date(2024, 2, 20) + timedelta(days=i)).isoformat() for i in range(30)
    ]
    totals = {d["date"]: (d["total"], d["successful"], d["failed"]) for d in daily if d["total"]}
    assert totals == {
        "2024-02-20": (1, 1, 0),
        "2024-03-09": (1, 1, 0),
        "2024-03-10": (2, 1, 1),
        "2024-03-19": (1, 1, 0),
        "2024-03-20": (2, 1, 0),
    }


def test_statistics_are_sql_aggregates(known_runs):
    business = known_runs.business
    db.session.refresh(business)  # loaded before counting: the fixture's commit expired it
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        statistics(business, NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(statements) == 2
    for statement in statements:
        assert "count(" in statement, statement
        assert "error_traceback" not in statement  # no row is loaded
