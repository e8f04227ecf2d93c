"""On PostgreSQL a request that only read ends with COMMIT, so psycopg keeps the statements it
prepared (issue 21, dashboard/read_only_requests.py); anything that wrote, or raised, still ends
with a rollback and keeps nothing it did not commit itself. What is kept is then planned once for
every value where one plan fits them all: the lists on the kept columns (services/history.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text, update

from dashboard.extensions import db
from dashboard.models import Business, ExportHistory
from dashboard.services.history import list_runs_query, runs_page
from dashboard.services.pages import DEFERRED_JOIN_OFFSET
from tests.automation.runner_helpers import TEST_DATABASE_URL
from tests.conftest import PASSWORD, Factory

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: SQLite prepares nothing and reads without BEGIN"
)


def test_a_page_read_again_and_again_is_planned_no_more(app_factory):
    # An app of its own, outside any test app context: every request its own session, ended at the
    # request's end, as in production.
    served = app_factory()
    with served.app_context():
        owner = Factory(served).user(
            Factory(served).business("Prepared Shop"), email="owner@prepared.example.com"
        )
        email = owner.email
    client = served.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    for _ in range(8):
        assert client.get("/history/").status_code == 200
    with served.app_context():  # one connection served every request (one at a time)
        prepared = db.session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        db.session.rollback()
    assert any("FROM users" in statement for statement in prepared), prepared


@pytest.mark.parametrize("threshold", [0, 5])
def test_a_statement_is_prepared_after_the_threshold_and_never_with_zero(app_factory, threshold):
    app = app_factory(DB_PREPARE_THRESHOLD=threshold)
    with app.app_context():
        for _ in range(8):  # in one transaction: prepared at the sixth run with a threshold of 5
            db.session.execute(select(Business.name).where(Business.name == "x")).all()
        prepared = db.session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        db.session.rollback()
    assert bool(prepared) is (threshold == 5), prepared


@pytest.mark.parametrize("how", ["changed", "flushed", "core update", "raised"])
def test_a_request_that_wrote_without_committing_keeps_nothing(app, client, tenant, how):
    business_id = tenant.business.id

    @app.route(f"/_test/write/{how.replace(' ', '-')}")
    def write():
        business = db.session.get(Business, business_id)
        if how == "core update":
            db.session.execute(update(Business).where(Business.id == business_id).values(name="Written"))
        else:
            business.name = "Written"
        if how in ("flushed", "raised"):
            db.session.flush()
        if how == "raised":
            raise RuntimeError("after writing")
        return "done"

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get(f"/_test/write/{how.replace(' ', '-')}")
    assert response.status_code == (500 if how == "raised" else 200)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Business, business_id).name == "Test Shop"


@pytest.mark.parametrize(
    "filters, generic",
    [
        ({}, True),
        ({"status": "COMPLETED", "export_type": "SALES"}, True),
        ({"start_date": date(2026, 1, 1)}, False),  # dates: the values choose the plan
    ],
)
def test_a_list_filtered_on_the_kept_columns_is_planned_once_for_every_value(app, tenant, filters, generic):
    """PostgreSQL kept planning a large business's list again at every request (its custom plans
    look cheaper than the generic one, which is the same plan): those lists ask for the generic
    plan, for their own transaction only; a list by dates or schedule keeps custom plans."""
    runs_page(list_runs_query(tenant.business, filters), 1, None, 20, 1)
    setting = db.session.scalar(text("SELECT current_setting('plan_cache_mode')"))
    db.session.commit()
    assert setting == ("force_generic_plan" if generic else "auto")
    assert db.session.scalar(text("SELECT current_setting('plan_cache_mode')")) == "auto"
    db.session.rollback()


def test_a_page_by_offset_plans_its_rows_by_id_for_their_ids(app, tenant):
    """A deep page read by OFFSET reads its rows by id (pages.page_items): one plan for every
    business and ids walked the business's whole index beside the ids' (6 ms for a large one).
    It asks for custom plans; a shallow one (read in one step) asks for nothing, and the generic
    setting is the lists' own, read from the top or a cursor."""
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    db.session.execute(
        insert(ExportHistory),
        [
            {
                "id": uuid.uuid4(),
                "business_id": tenant.business.id,
                "export_type": "SALES",
                "format": "csv",
                "trigger": "MANUAL",
                "status": "COMPLETED",
                "created_at": start - timedelta(minutes=n),
            }
            for n in range(DEFERRED_JOIN_OFFSET + 30)
        ],
    )
    db.session.commit()
    stmt = list_runs_query(tenant.business, {})
    for page, setting in ((2, "auto"), (DEFERRED_JOIN_OFFSET // 20 + 1, "force_custom_plan")):
        found = runs_page(stmt, page, None, 20, DEFERRED_JOIN_OFFSET + 30)
        assert len(found.items) == 20
        assert db.session.scalar(text("SELECT current_setting('plan_cache_mode')")) == setting, page
        db.session.rollback()


def test_without_prepared_statements_a_list_asks_for_no_plan(app_factory):
    """DB_PREPARE_THRESHOLD=0 (PgBouncer in transaction mode): every statement is planned for its
    values anyway, so the setting would only cost a round trip."""
    app = app_factory(DB_PREPARE_THRESHOLD=0)
    with app.app_context():
        business = Factory(app).business("Unprepared Shop")
        runs_page(list_runs_query(business, {}), 1, None, 20, 1)
        setting = db.session.scalar(text("SELECT current_setting('plan_cache_mode')"))
        db.session.rollback()
    assert setting == "auto"
