"""export_history_counts: kept exact by the database's triggers, whoever writes the runs, and the
history list's `count` read from it (models/history_counts.py, services/history.count_history)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, delete, func, insert, select, text, update

from dashboard.extensions import db
from dashboard.models import Business, ExportHistory, ExportHistoryCount, ExportSchedule
from dashboard.services import history as history_service
from tests.automation.runner_helpers import TEST_DATABASE_URL, flask_db, table_as_migrated
from tests.automation.runner_helpers import empty_database as migrated_database
from tests.history_counts_check import counts_mismatch


def _run(business, **values) -> dict:
    row = {
        "id": uuid.uuid4(),
        "business_id": business.id,
        "export_type": "SALES",
        "format": "csv",
        "trigger": "MANUAL",
        "status": "COMPLETED",
        "created_at": datetime(2026, 3, 1, 12, tzinfo=UTC),
    }
    row.update(values)
    return row


def _mismatch() -> dict:
    db.session.commit()
    return counts_mismatch(db.session.connection())


def _kept(business) -> dict[tuple[str, str, str, str], int]:
    rows = db.session.execute(
        select(
            ExportHistoryCount.export_type,
            ExportHistoryCount.format,
            ExportHistoryCount.status,
            ExportHistoryCount.trigger,
            ExportHistoryCount.runs,
        ).where(ExportHistoryCount.business_id == business.id, ExportHistoryCount.runs != 0)
    )
    return {tuple(row[:4]): row[4] for row in rows}


def test_every_kind_of_write_keeps_the_counts_exact(factory):
    shop, other = factory.business("Counted Shop"), factory.business("Other Shop")
    table = ExportHistory.__table__
    # One row through the ORM, a bulk insert through Core (one statement, many rows).
    db.session.add(ExportHistory(business_id=shop.id, export_type="SALES", format="excel", status="PENDING"))
    db.session.commit()
    db.session.execute(
        insert(table),
        [_run(shop, status=s, format=f) for s in ("COMPLETED", "FAILED", "EMAILED") for f in ("csv", "pdf")]
        + [_run(other, trigger="API") for _ in range(5)],
    )
    assert _mismatch() == {}
    assert _kept(shop)[("SALES", "excel", "PENDING", "MANUAL")] == 1
    assert sum(_kept(other).values()) == 5

    # A run's life: PENDING -> PROCESSING (heartbeats, progress) -> COMPLETED -> EMAILED.
    run = db.session.scalar(select(ExportHistory).where(ExportHistory.status == "PENDING"))
    run.status = "PROCESSING"
    db.session.commit()
    db.session.execute(
        update(ExportHistory)
        .where(ExportHistory.id == run.id)
        .values(heartbeat_at=datetime.now(UTC), progress=500)
    )
    db.session.execute(update(ExportHistory).where(ExportHistory.id == run.id).values(status="COMPLETED"))
    db.session.execute(update(ExportHistory).where(ExportHistory.id == run.id).values(status="EMAILED"))
    assert _mismatch() == {}
    assert ("SALES", "excel", "PENDING", "MANUAL") not in _kept(shop)
    assert _kept(shop)[("SALES", "excel", "EMAILED", "MANUAL")] == 1

    # A multi-row UPDATE changing several counted columns at once, and one changing none.
    db.session.execute(
        update(ExportHistory)
        .where(ExportHistory.business_id == other.id)
        .values(status="FAILED", export_type="AUDIT_LOGS", format="pdf")
    )
    db.session.execute(update(ExportHistory).where(ExportHistory.business_id == shop.id).values(progress=1))
    assert _mismatch() == {}
    assert _kept(other) == {("AUDIT_LOGS", "pdf", "FAILED", "API"): 5}

    # Deletes: one run, then a whole business (its runs and counts go by cascade).
    db.session.execute(delete(ExportHistory).where(ExportHistory.id == run.id))
    assert _mismatch() == {}
    db.session.delete(db.session.get(Business, other.id))
    db.session.commit()
    assert _mismatch() == {}
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ExportHistoryCount)
            .where(ExportHistoryCount.business_id == other.id)
        )
        == 0
    )

    # A rolled-back write leaves no trace in the counts either.
    db.session.execute(insert(table), [_run(shop)])
    db.session.rollback()
    assert _mismatch() == {}


FILTER_CASES = [
    {},
    {"status": "FAILED"},
    {"export_type": "SALES", "status": "COMPLETED"},
    {"format": "pdf", "trigger": "API"},
    {"export_type": "INVENTORY"},  # none
    {"start_date": date(2026, 3, 2)},
    {"end_date": date(2026, 3, 2), "status": "COMPLETED"},
    {"schedule_id": "SCHEDULE"},
]


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: ",".join(f) or "none")
def test_count_history_equals_the_rows_the_list_shows(factory, filters):
    shop = factory.business("Filter Shop")
    schedule = ExportSchedule(
        business_id=shop.id,
        name="Weekly",
        export_type="SALES",
        format="csv",
        frequency="WEEKLY",
        day_of_week=0,
        recipients=["a@example.com"],
    )
    db.session.add(schedule)
    db.session.commit()
    rows = []
    for n in range(60):
        rows.append(
            _run(
                shop,
                export_type=("SALES", "CUSTOMERS", "AUDIT_LOGS")[n % 3],
                format=("csv", "excel", "pdf")[(n // 2) % 3],
                status=("COMPLETED", "FAILED", "EMAILED", "PENDING")[n % 4],
                trigger=("MANUAL", "API", "SCHEDULED")[n % 3],
                schedule_id=schedule.id if n % 5 == 0 else None,
                created_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=5 * n),
            )
        )
    db.session.execute(insert(ExportHistory.__table__), rows)
    db.session.commit()
    if filters.get("schedule_id"):
        filters = {**filters, "schedule_id": schedule.id}
    listed = len(list(db.session.scalars(history_service.history_query(shop, filters))))
    assert history_service.count_history(shop, filters) == listed
    assert listed > 0 or filters == {"export_type": "INVENTORY"}


def test_list_and_page_counts_come_from_the_kept_table(factory):
    """`count` reads export_history_counts: a deliberately wrong kept count shows (proving it is
    used); filters it cannot answer still count the runs."""
    shop = factory.business("Kept Shop")
    db.session.execute(insert(ExportHistory.__table__), [_run(shop) for _ in range(3)])
    db.session.commit()
    db.session.execute(
        update(ExportHistoryCount).where(ExportHistoryCount.business_id == shop.id).values(runs=1234)
    )
    db.session.commit()
    assert history_service.count_history(shop, {}) == 1234
    assert history_service.count_history(shop, {"start_date": date(2026, 3, 1)}) == 3
    db.session.execute(
        update(ExportHistoryCount).where(ExportHistoryCount.business_id == shop.id).values(runs=3)
    )
    db.session.commit()


# ---- the migration -----------------------------------------------------------------------------


@pytest.fixture
def empty_database(tmp_path):
    with migrated_database(tmp_path, "_counts_mig") as url:
        yield url


def test_the_migration_fills_the_counts_and_installs_the_triggers(tmp_path, empty_database):
    url = empty_database
    flask_db(tmp_path, url, "upgrade", "7b1e2c4d9a10")  # the schema before the counts
    engine = create_engine(url)
    business = table_as_migrated(engine, Business.__table__)
    shop_id = uuid.uuid4()
    old_history = table_as_migrated(engine, ExportHistory.__table__)
    with engine.begin() as connection:
        connection.execute(
            insert(business), [{"id": shop_id, "name": "Old Shop", "timezone": "UTC", "currency": "USD"}]
        )
        shop = type("Shop", (), {"id": shop_id})
        connection.execute(
            insert(old_history),
            [_run(shop, status=("COMPLETED", "FAILED")[n % 2]) for n in range(7)],
        )
    flask_db(tmp_path, url, "upgrade")
    flask_db(tmp_path, url, "check")  # the models and the migrated schema agree
    with engine.begin() as connection:
        assert counts_mismatch(connection) == {}
        kept = dict(
            connection.execute(
                select(ExportHistoryCount.status, ExportHistoryCount.runs).where(
                    ExportHistoryCount.business_id == shop_id
                )
            ).all()
        )
        assert kept == {"COMPLETED": 4, "FAILED": 3}
        # The migrated triggers (the migration's frozen copy) behave as the models' own.
        connection.execute(insert(ExportHistory.__table__), [_run(shop, trigger="API")])
        connection.execute(update(ExportHistory.__table__).values(status="EMAILED"))
        connection.execute(delete(ExportHistory.__table__).where(ExportHistory.__table__.c.trigger == "API"))
        assert counts_mismatch(connection) == {}
        assert connection.execute(select(func.sum(ExportHistoryCount.runs))).scalar() == 7
    engine.dispose()
    flask_db(tmp_path, url, "downgrade", "7b1e2c4d9a10")
    engine = create_engine(url)
    old_history = table_as_migrated(engine, ExportHistory.__table__)
    with engine.begin() as connection:  # no trigger is left pointing at the dropped table
        connection.execute(insert(old_history), [_run(shop)])
        connection.execute(update(old_history).values(status="FAILED"))
        connection.execute(delete(old_history))
    engine.dispose()


def test_flask_exports_recount_mends_wrong_counts(factory, runner):
    shop = factory.business("Recount Shop")
    db.session.execute(
        insert(ExportHistory.__table__), [_run(shop, status=("COMPLETED", "FAILED")[n % 2]) for n in range(5)]
    )
    db.session.commit()
    result = runner.invoke(args=["exports", "recount"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "recount: 0 corrected, 5 runs, 1 businesses."
    # Wrong counts (as after a restore into a schema without the triggers) are put right.
    db.session.execute(delete(ExportHistoryCount))
    db.session.execute(
        insert(ExportHistoryCount.__table__),
        [
            {
                "business_id": shop.id,
                "export_type": "SALES",
                "format": "csv",
                "status": "PENDING",
                "trigger": "API",
                "runs": 9,
            }
        ],
    )
    db.session.commit()
    assert _mismatch() != {}
    result = runner.invoke(args=["exports", "recount"])
    assert result.output.strip() == "recount: 3 corrected, 5 runs, 1 businesses."
    assert _mismatch() == {}
    assert _kept(shop) == {
        ("SALES", "csv", "COMPLETED", "MANUAL"): 3,
        ("SALES", "csv", "FAILED", "MANUAL"): 2,
    }


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL only: the row locks of concurrent writers")
def test_runs_moving_in_opposite_directions_at_once_do_not_deadlock(factory):
    """A run starting (PENDING -> PROCESSING) while another is handed back (PROCESSING -> PENDING)
    touches the same two counts rows in opposite orders; the trigger locks them in key order.
    A third transaction holds the PENDING row first, so that both movers queue behind it: with
    the rows locked in the order of each change, PostgreSQL found a deadlock and aborted one."""
    import threading
    import time

    shop = factory.business("Lock Shop")
    forward, back = _run(shop, status="PENDING"), _run(shop, status="PROCESSING")
    db.session.execute(insert(ExportHistory.__table__), [forward, back])
    db.session.commit()
    engine = db.engine

    def waiting_on_locks() -> int:
        with engine.connect() as probe:
            return probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()

    def wait_for_waiters(n: int) -> None:
        deadline = time.monotonic() + 10
        while waiting_on_locks() < n:
            assert time.monotonic() < deadline, f"fewer than {n} transactions ever waited"
            time.sleep(0.02)

    results: dict[str, str] = {}

    def move(name: str, run_id, status: str) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(ExportHistory).where(ExportHistory.id == run_id).values(status=status)
                )
            results[name] = "ok"
        except Exception as exc:  # the deadlock this test is about
            results[name] = type(exc).__name__ + ": " + str(exc).splitlines()[0]

    with engine.connect() as holder:
        holder.execute(
            select(ExportHistoryCount)
            .where(ExportHistoryCount.business_id == shop.id, ExportHistoryCount.status == "PENDING")
            .with_for_update()
        )
        movers = [
            threading.Thread(target=move, args=("forward", forward["id"], "PROCESSING")),
            threading.Thread(target=move, args=("back", back["id"], "PENDING")),
        ]
        movers[0].start()
        wait_for_waiters(1)
        movers[1].start()
        wait_for_waiters(2)
        holder.rollback()
    for mover in movers:
        mover.join(30)
    assert results == {"forward": "ok", "back": "ok"}
    assert _mismatch() == {}
    assert _kept(shop) == {
        ("SALES", "csv", "PROCESSING", "MANUAL"): 1,
        ("SALES", "csv", "PENDING", "MANUAL"): 1,
    }


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL only: SQLite has no TRUNCATE")
def test_truncating_the_runs_empties_their_counts(factory):
    shop = factory.business("Truncated Shop")
    db.session.execute(insert(ExportHistory.__table__), [_run(shop) for _ in range(4)])
    db.session.commit()
    assert sum(_kept(shop).values()) == 4
    db.session.execute(text("TRUNCATE export_history CASCADE"))
    db.session.commit()
    assert _kept(shop) == {} and _mismatch() == {}
