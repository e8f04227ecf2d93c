"""No N+1 queries: a list costs the same number of SQL statements for 1 row as for 20.

Each request's statements are counted with a `before_cursor_execute` listener on the engine. The
API lists are asked for `page_size=1` and `page_size=20` over the same 25 rows; the pages (20 rows
a page, fixed) are asked with 1 row in the database and again with 25. Every row has its own user
or schedule (and every schedule its own creator), so that a relationship loaded per row shows up
as growth. Every row has both a user and a schedule, so that even the 1-row request loads each
relationship once (selectinload sends nothing for a relationship no row has).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule, Membership, User
from dashboard.services.history import GENERIC_PLANS

ROWS = 25
API = "/api/reports/automation"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@contextmanager
def counted():
    """Yields a list that receives every SQL statement sent while the block runs."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def member(tenant, name: str) -> User:
    """A member with no password (hashing one per row would only make the test slow)."""
    user = User(email=f"{name.lower().replace(' ', '-')}@perf.example.com", name=name)
    db.session.add_all([user, Membership(user=user, business=tenant.business, role="manager")])
    db.session.flush()
    return user


def add_schedules(tenant, count: int, start: int = 0) -> list[ExportSchedule]:
    schedules = []
    for n in range(start, start + count):
        creator = member(tenant, f"Creator {n}")
        schedule = ExportSchedule(
            business_id=tenant.business.id,
            created_by_id=creator.id,
            name=f"Schedule {n:02d}",
            export_type="SALES",
            format="csv",
            frequency="WEEKLY",
            hour=8,
            minute=30,
            day_of_week=n % 7,
            timezone="Europe/London",
            recipients=["accounts@example.com"],
            include_creator_email=True,
            filters={"date_range": "previous_week"},
            is_active=n % 3 != 0,
            next_run_at=NOW + timedelta(days=n % 7 + 1),
            last_run_at=NOW - timedelta(days=1) if n % 2 else None,
        )
        db.session.add(schedule)
        schedules.append(schedule)
    db.session.commit()
    return schedules


def add_runs(tenant, count: int, start: int = 0) -> None:
    """Manual runs of schedules: each row has its own user and its own schedule."""
    statuses = ("COMPLETED", "EMAILED", "FAILED", "PENDING", "PROCESSING")
    for n in range(start, start + count):
        user = member(tenant, f"Runner {n}")
        schedule = add_schedules(tenant, 1, start=100 + n)[0]
        status = statuses[n % len(statuses)]
        db.session.add(
            ExportHistory(
                business_id=tenant.business.id,
                user_id=user.id,
                schedule_id=schedule.id,
                schedule_name=schedule.name if n % 2 else "",
                export_type=("SALES", "CUSTOMERS", "INVENTORY", "AUDIT_LOGS")[n % 4],
                format=("excel", "csv", "pdf")[n % 3],
                trigger="MANUAL",
                status=status,
                started_at=NOW - timedelta(hours=n, minutes=5),
                completed_at=NOW - timedelta(hours=n)
                if status in ("COMPLETED", "EMAILED", "FAILED")
                else None,
                file_name=f"sales_export_{n}.csv" if status in ("COMPLETED", "EMAILED") else "",
                file_size=1024 * (n + 1) if status in ("COMPLETED", "EMAILED") else 0,
                file_path=f"exports/{n}.csv" if status in ("COMPLETED", "EMAILED") else "",
                record_count=n,
                filters_applied={"start_date": "2026-03-01", "end_date": "2026-03-01"},
                email_delivery=[{"email": "accounts@example.com", "accepted": True, "error": ""}],
                error_message="It failed." if status == "FAILED" else "",
                created_at=NOW - timedelta(hours=n),
            )
        )
    db.session.commit()


def statements_for(client, path: str, headers: dict | None = None) -> list[str]:
    db.session.expire_all()  # nothing the request reads may come from this test's identity map
    with counted() as statements:
        response = client.get(path, headers=headers or {})
    assert response.status_code == 200, (path, response.status_code, response.data[:300])
    return statements


def assert_no_growth(small: list[str], large: list[str], what: str) -> None:
    assert len(large) == len(small), (
        f"{what}: {len(small)} statements for 1 row, {len(large)} for 20 (N+1?)\n"
        + "\n".join(s.split("\n")[0][:150] for s in large)
    )


@pytest.fixture
def bearer(api_token, tenant):
    return api_token(tenant.owner, tenant.business)


def test_history_list_api_queries_do_not_grow_with_page_size(client, tenant, bearer):
    add_runs(tenant, ROWS)
    small = statements_for(client, f"{API}/history/?page_size=1", bearer)
    large = statements_for(client, f"{API}/history/?page_size=20", bearer)
    assert_no_growth(small, large, "GET history/")
    filtered = statements_for(client, f"{API}/history/?page_size=20&status=FAILED&page=1", bearer)
    assert len(filtered) == len(small)


def test_schedules_list_api_queries_do_not_grow_with_page_size(client, tenant, bearer):
    add_schedules(tenant, ROWS)
    small = statements_for(client, f"{API}/schedules/?page_size=1", bearer)
    large = statements_for(client, f"{API}/schedules/?page_size=20", bearer)
    assert_no_growth(small, large, "GET schedules/")


def test_history_page_queries_do_not_grow_with_rows(client, auth, tenant):
    auth.login(tenant.owner.email)
    add_runs(tenant, 1)
    client.get("/history/")  # the schedules' names, read once for the business's stamp
    small = statements_for(client, "/history/")
    add_runs(tenant, ROWS - 1, start=1)  # with schedules of their own: their names are read once
    client.get("/history/")
    large = statements_for(client, "/history/")
    assert_no_growth(small, large, "/history/")


def test_schedules_page_queries_do_not_grow_with_rows(client, auth, tenant):
    auth.login(tenant.owner.email)
    add_schedules(tenant, 1)
    small = statements_for(client, "/schedules/")
    add_schedules(tenant, ROWS - 1, start=1)
    large = statements_for(client, "/schedules/")
    assert_no_growth(small, large, "/schedules/")


def test_a_signed_in_page_reads_its_business_with_the_memberships(client, auth, tenant):
    """The person, then their memberships with each business: no separate read of a business."""
    auth.login(tenant.owner.email)
    with counted() as statements:
        response = client.get("/history/")
    assert response.status_code == 200
    business_reads = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "\nFROM businesses" in s
    ]
    assert business_reads == [], business_reads


def test_an_api_list_page_is_two_statements_on_postgresql_three_on_sqlite(client, tenant, bearer):
    """Issue 21: the token's sign-in (token, membership, user and business in one) and the page.
    On PostgreSQL the page carries the kept count with its rows (a round trip fewer); SQLite, for
    which a statement is no round trip, counts first. One-format runs need no read of their files:
    their own columns are the file. PostgreSQL is also asked, before the page, to plan it the same
    for every value (set_config, no table read: services/history.py, GENERIC_PLANS)."""
    add_runs(tenant, ROWS)
    carried = db.engine.dialect.name == "postgresql"
    everything = statements_for(client, f"{API}/history/?page_size=20", bearer)
    assert [s for s in everything if "set_config" in s] == ([GENERIC_PLANS] if carried else [])
    statements = [s for s in everything if "set_config" not in s]
    assert len(statements) == (2 if carried else 3), "\n".join(s.split("\n")[0][:150] for s in statements)
    assert "export_history_counts" in statements[1]
    assert ("FROM export_history " in statements[1]) is carried
    assert not [s for s in statements if "export_run_files" in s]
    # The next page, by its cursor: as many.
    link = client.get(f"{API}/history/?page_size=20", headers=bearer).get_json()["next"]
    assert len(statements_for(client, link, bearer)) == len(everything)


def test_a_list_the_kept_counts_cannot_answer_is_counted_on_its_own(client, tenant, bearer):
    """Dates (or a schedule): the runs are counted by a statement of their own, as before."""
    add_runs(tenant, 3)
    statements = statements_for(client, f"{API}/history/?start_date=2000-01-01", bearer)
    assert len(statements) == 3 and "count(" in statements[1].lower()
    assert client.get(f"{API}/history/?start_date=2000-01-01", headers=bearer).get_json()["count"] == 3


def test_a_page_with_a_run_of_several_formats_reads_the_files_once(client, tenant, bearer):
    add_runs(tenant, 3)
    several = db.session.scalars(db.select(ExportHistory).limit(1)).one()
    several.formats = ["csv", "excel"]
    db.session.commit()
    statements = statements_for(client, f"{API}/history/?page_size=20", bearer)
    assert len([s for s in statements if "export_run_files" in s]) == 1
    assert len(statements) == 4  # on PostgreSQL the plan setting, on SQLite the count


def test_a_signed_in_page_reads_the_person_and_memberships_in_one_statement(client, auth, tenant):
    auth.login(tenant.owner.email)
    with counted() as statements:
        response = client.get("/history/")
    assert response.status_code == 200
    membership_reads = [s for s in statements if "memberships" in s]
    assert len(membership_reads) == 1, membership_reads
    assert "FROM users" in membership_reads[0]


def test_the_history_page_reads_the_schedules_names_again_only_when_they_changed(client, auth, tenant):
    """Issue 21: the filter's schedule names are kept by the business's schedules stamp, which the
    person's sign-in reads anyway: a page reads them once, and again after a rename."""
    auth.login(tenant.owner.email)
    (schedule,) = add_schedules(tenant, 1)

    def names_read() -> int:
        return sum(
            "SELECT export_schedules.id, export_schedules.name" in s
            for s in statements_for(client, "/history/")
        )

    assert names_read() == 1
    assert names_read() == 0
    schedule.name = "Renamed"
    db.session.commit()
    assert names_read() == 1
    assert names_read() == 0
    assert "Renamed</option>" in client.get("/history/").get_data(as_text=True)
