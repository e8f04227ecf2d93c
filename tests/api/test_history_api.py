"""/api/reports/automation/history/: list (filters, pagination), detail, download, rerun, statistics,
recent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory
from dashboard.storage import get_storage
from tests.api.conftest import BASE, ApiClient, bearer, make_history, make_schedule, store_file

HISTORY = f"{BASE}/history/"

HISTORY_FIELDS = {
    "id",
    "user",
    "user_name",
    "schedule",
    "schedule_name",
    "export_type",
    "format",
    "trigger",
    "status",
    "status_display",
    "started_at",
    "completed_at",
    "file_name",
    "file_size",
    "file_size_display",
    "record_count",
    "filters_applied",
    "email_sent",
    "email_recipients",
    "email_sent_at",
    "email_delivery",
    "error_message",
    "created_at",
    "duration_display",
    "download_url",
    "attempt",
    "retry_of",
    "progress",
}


def test_list_shape_omits_the_traceback(owner_api, tenant, schedule):
    make_history(
        tenant.business, tenant.owner, schedule, status="FAILED", error_message="Boom", error_traceback="TB"
    )
    response = owner_api.get(HISTORY)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    run = body["results"][0]
    assert HISTORY_FIELDS <= set(run) and "error_traceback" not in run
    assert run["schedule_name"] == "Daily sales" and run["user_name"] == "Olive Owner"
    assert run["status_display"] == "Failed" and run["download_url"] is None


def test_detail_includes_the_traceback(owner_api, tenant):
    run = make_history(tenant.business, tenant.owner, status="FAILED", error_traceback="Traceback: boom")
    response = owner_api.get(f"{HISTORY}{run.id}/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["error_traceback"] == "Traceback: boom" and HISTORY_FIELDS <= set(body)


def test_display_fields(owner_api, app, tenant):
    started = datetime(2024, 3, 15, 8, 0, tzinfo=UTC)
    run = make_history(
        tenant.business,
        tenant.owner,
        started_at=started,
        completed_at=started + timedelta(seconds=135),
        file_name="sales_export_2024-03-15.csv",
    )
    store_file(app, run, b"x" * (1024 * 1024 + 512 * 1024))
    body = owner_api.get(f"{HISTORY}{run.id}/").get_json()
    assert body["duration_display"] == "2m 15s" and body["file_size_display"] == "1.5 MB"
    assert body["download_url"] == f"/api/reports/automation/history/{run.id}/download/"
    assert body["started_at"] == "2024-03-15T08:00:00Z"


@pytest.fixture
def runs(tenant, schedule):
    other = make_schedule(tenant.business, tenant.owner, name="Stock", export_type="INVENTORY", filters={})
    now = datetime.now(UTC)
    return {
        "a": make_history(tenant.business, tenant.owner, schedule, created_at=now - timedelta(minutes=1)),
        "b": make_history(
            tenant.business,
            None,
            schedule,
            trigger="SCHEDULED",
            status="FAILED",
            format="pdf",
            created_at=now - timedelta(minutes=2),
        ),
        "c": make_history(
            tenant.business,
            tenant.manager,
            other,
            export_type="INVENTORY",
            format="excel",
            trigger="API",
            status="EMAILED",
            created_at=now - timedelta(minutes=3),
        ),
        "d": make_history(
            tenant.business, tenant.owner, status="PENDING", created_at=now - timedelta(minutes=4)
        ),
        "schedule": schedule,
        "other": other,
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["a", "b", "c", "d"]),
        ("export_type=INVENTORY", ["c"]),
        ("format=pdf", ["b"]),
        ("format=csv", ["a", "d"]),
        ("status=FAILED", ["b"]),
        ("status=EMAILED", ["c"]),
        ("trigger=SCHEDULED", ["b"]),
        ("trigger=API", ["c"]),
        ("export_type=SALES&status=COMPLETED", ["a"]),
    ],
)
def test_list_filters(owner_api, runs, query, expected):
    body = owner_api.get(f"{HISTORY}?{query}").get_json()
    assert [r["id"] for r in body["results"]] == [str(runs[k].id) for k in expected]


def test_list_filter_by_schedule(owner_api, runs):
    body = owner_api.get(f"{HISTORY}?schedule_id={runs['schedule'].id}").get_json()
    assert [r["id"] for r in body["results"]] == [str(runs["a"].id), str(runs["b"].id)]
    body = owner_api.get(f"{HISTORY}?schedule_id={runs['other'].id}").get_json()
    assert [r["id"] for r in body["results"]] == [str(runs["c"].id)]


def test_date_filters_are_days_in_the_business_timezone(app, client, factory):
    business = factory.business("Harbour Shop", timezone="America/New_York")
    owner = factory.user(business, role="owner")
    api = ApiClient(client, bearer(owner, business))
    # 03:00 UTC on 2 March is 22:00 on 1 March in New York.
    late = make_history(business, owner, created_at=datetime(2024, 3, 2, 3, 0, tzinfo=UTC))
    early = make_history(business, owner, created_at=datetime(2024, 3, 2, 6, 0, tzinfo=UTC))

    def ids(query):
        return [r["id"] for r in api.get(f"{HISTORY}?{query}").get_json()["results"]]

    assert ids("start_date=2024-03-01&end_date=2024-03-01") == [str(late.id)]
    assert ids("start_date=2024-03-02") == [str(early.id)]
    assert ids("end_date=2024-03-02") == [str(early.id), str(late.id)]
    assert ids("start_date=2024-03-03") == []


def test_history_pagination(owner_api, tenant):
    now = datetime.now(UTC)
    for i in range(7):
        make_history(tenant.business, tenant.owner, created_at=now - timedelta(minutes=i))
    body = owner_api.get(f"{HISTORY}?page_size=3&status=COMPLETED").get_json()
    assert body["count"] == 7 and len(body["results"]) == 3
    # The next link keeps the filters and page size and carries a cursor instead of a page
    # number (tests/api/test_history_cursor.py walks lists by cursor in depth).
    query = parse_qs(urlsplit(body["next"]).query)
    assert set(query) == {"page_size", "status", "cursor"}
    assert query["page_size"] == ["3"] and query["status"] == ["COMPLETED"]
    by_cursor = owner_api.get(body["next"]).get_json()
    by_page = owner_api.get(f"{HISTORY}?page_size=3&status=COMPLETED&page=2").get_json()
    assert by_cursor["results"] == by_page["results"] and len(by_page["results"]) == 3
    last = owner_api.get(f"{HISTORY}?page_size=3&status=COMPLETED&page=3").get_json()
    assert len(last["results"]) == 1 and last["next"] is None
    assert owner_api.get(f"{HISTORY}?page_size=3&page=4").status_code == 404


# --------------------------------------------------------------------------------------------
# Download


def test_download_streams_the_file_and_audits(owner_api, app, tenant):
    run = make_history(
        tenant.business, tenant.owner, status="EMAILED", file_name="sales_export_2024-03-15.csv"
    )
    store_file(app, run, b"\xef\xbb\xbfReceipt,Total\r\nR-1,10.00\r\n")
    response = owner_api.get(f"{HISTORY}{run.id}/download/")
    assert response.status_code == 200
    assert response.data == b"\xef\xbb\xbfReceipt,Total\r\nR-1,10.00\r\n"
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=sales_export_2024-03-15.csv"
    assert response.headers["Cache-Control"] == "private, no-store"
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.download"))
    assert audit is not None and audit.entity_id == str(run.id) and audit.user_id == tenant.owner.id


@pytest.mark.parametrize(
    "fmt, name, mimetype",
    [
        ("excel", "stock.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("pdf", "stock.pdf", "application/pdf"),
    ],
)
def test_download_content_types(manager_api, app, tenant, fmt, name, mimetype):
    run = make_history(tenant.business, tenant.owner, format=fmt, file_name=name)
    store_file(app, run, b"%binary%")
    response = manager_api.get(f"{HISTORY}{run.id}/download/")
    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"


def test_download_name_is_sanitized(owner_api, app, tenant):
    run = make_history(tenant.business, tenant.owner, file_name='../évil"\r\nSet-Cookie: x=1;.csv')
    store_file(app, run)
    response = owner_api.get(f"{HISTORY}{run.id}/download/")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("status", ["FAILED", "PENDING", "PROCESSING"])
def test_download_is_409_unless_completed_or_emailed(owner_api, app, tenant, status):
    run = make_history(tenant.business, tenant.owner, status=status, file_name="x.csv")
    store_file(app, run)
    run.status = status
    db.session.commit()
    response = owner_api.get(f"{HISTORY}{run.id}/download/")
    assert response.status_code == 409 and status in response.get_json()["detail"]
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export.download")) is None


def test_download_is_409_after_cleanup(owner_api, app, tenant):
    cleared = make_history(tenant.business, tenant.owner, file_name="x.csv", file_path="")
    response = owner_api.get(f"{HISTORY}{cleared.id}/download/")
    assert response.status_code == 409 and "cleaned up" in response.get_json()["detail"]
    vanished = make_history(tenant.business, tenant.owner, file_name="y.csv")
    path = store_file(app, vanished)
    assert get_storage().delete_export_file(path)  # gone from disk, file_path still set
    response = owner_api.get(f"{HISTORY}{vanished.id}/download/")
    assert response.status_code == 409


# --------------------------------------------------------------------------------------------
# Rerun


def test_rerun_answers_202_with_a_new_run_for_the_same_period(owner_api, tenant, schedule):
    original = make_history(
        tenant.business,
        tenant.owner,
        schedule,
        filters_applied={"date_range": "yesterday", "start_date": "2024-03-14", "end_date": "2024-03-14"},
        status="FAILED",
    )
    response = owner_api.post(f"{HISTORY}{original.id}/rerun/")
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert run["id"] != str(original.id) and run["trigger"] == "API"
    assert run["schedule"] == str(schedule.id) and run["attempt"] == 1
    assert run["filters_applied"]["start_date"] == "2024-03-14"
    assert run["filters_applied"]["end_date"] == "2024-03-14"
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export.rerun")) is not None


# --------------------------------------------------------------------------------------------
# Statistics and recent


def test_statistics_shape_and_figures(owner_api, tenant):
    for status, size in (("COMPLETED", 1024 * 1024), ("COMPLETED", 3 * 1024 * 1024), ("EMAILED", 0)):
        make_history(tenant.business, tenant.owner, status=status, file_size=size)
    make_history(tenant.business, tenant.owner, status="FAILED", export_type="CUSTOMERS", format="pdf")
    make_history(tenant.business, tenant.owner, status="PENDING")
    make_history(tenant.business, tenant.owner, created_at=datetime.now(UTC) - timedelta(days=8))
    response = owner_api.get(f"{HISTORY}statistics/")
    assert response.status_code == 200
    stats = response.get_json()
    assert stats["total_exports"] == 6
    assert stats["successful_exports"] == 4 and stats["failed_exports"] == 1
    assert stats["success_rate"] == 80.0
    assert stats["recent_exports_7_days"] == 5
    assert stats["average_file_size_mb"] == 2.0
    assert stats["by_type"]["CUSTOMERS"] == {"total": 1, "successful": 0, "failed": 1}
    assert stats["by_format"]["pdf"] == {"total": 1, "successful": 0, "failed": 1}
    assert len(stats["daily"]) == 30 and stats["daily"][-1]["total"] == 5


def test_statistics_with_nothing_finished(owner_api):
    stats = owner_api.get(f"{HISTORY}statistics/").get_json()
    assert stats["total_exports"] == 0 and stats["success_rate"] is None


def test_recent_is_a_plain_array_of_the_last_ten(owner_api, tenant):
    now = datetime.now(UTC)
    made = [
        make_history(tenant.business, tenant.owner, created_at=now - timedelta(minutes=i)) for i in range(12)
    ]
    response = owner_api.get(f"{HISTORY}recent/")
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body, list) and [r["id"] for r in body] == [str(h.id) for h in made[:10]]
    assert all("error_traceback" not in r for r in body)


def test_runs_of_other_businesses_never_show(owner_api, tenant, foreign_history):
    mine = make_history(tenant.business, tenant.owner)
    assert [r["id"] for r in owner_api.get(HISTORY).get_json()["results"]] == [str(mine.id)]
    assert [r["id"] for r in owner_api.get(f"{HISTORY}recent/").get_json()] == [str(mine.id)]
    assert owner_api.get(f"{HISTORY}statistics/").get_json()["total_exports"] == 1
    assert db.session.get(ExportHistory, foreign_history.id) is not None
