"""The schedules stamp (issue 21, models/schedules_stamp.py): the database moves a business's stamp
on whenever one of its schedules is added, removed or renamed, whoever writes, and only then; the
/history filter's schedule names are kept by it and are never stale."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, delete, insert, select, update

from dashboard.extensions import db
from dashboard.models import Business, ExportSchedule
from dashboard.services import schedules as schedule_service
from tests.automation.runner_helpers import empty_database as migrated_database
from tests.automation.runner_helpers import flask_db, table_as_migrated
from tests.web.web_helpers import schedule_data


def _stamp(business_id) -> int:
    return db.session.execute(select(Business.schedules_stamp).where(Business.id == business_id)).scalar_one()


def _schedule_row(business_id, name: str) -> dict:
    return {
        "id": uuid.uuid4(),
        "business_id": business_id,
        "name": name,
        "export_type": "SALES",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 7,
        "is_active": True,
        "recipients": [],
        "created_at": datetime(2026, 3, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 3, 1, tzinfo=UTC),
    }


def test_adding_renaming_and_removing_a_schedule_moves_the_stamp_and_nothing_else_does(factory):
    shop, other = factory.business("Stamp Shop"), factory.business("Other Shop")
    owner = factory.user(shop, role="owner")
    seen = [_stamp(shop.id)]

    def moved() -> bool:
        db.session.expire_all()
        seen.append(_stamp(shop.id))
        return seen[-1] > seen[-2]

    schedule = schedule_service.create_schedule(shop, owner, schedule_data(name="Weekly sales"))
    assert moved()
    schedule.next_run_at = datetime(2027, 1, 1, tzinfo=UTC)  # what a claim writes
    schedule.is_active = False
    db.session.commit()
    assert not moved()
    schedule.name = "Monday sales"
    db.session.commit()
    assert moved()
    # Core writes (a bulk load, the runner): two rows in one statement, an update, a delete.
    table = ExportSchedule.__table__
    rows = [_schedule_row(shop.id, "Bulk one"), _schedule_row(shop.id, "Bulk two")]
    db.session.execute(insert(table), rows)
    db.session.commit()
    assert moved()
    db.session.execute(
        update(table).where(table.c.business_id == shop.id).values(last_run_at=datetime.now(UTC))
    )
    db.session.commit()
    assert not moved()
    db.session.execute(update(table).where(table.c.id == rows[0]["id"]).values(name="Bulk renamed"))
    db.session.commit()
    assert moved()
    db.session.execute(delete(table).where(table.c.id == rows[1]["id"]))
    db.session.commit()
    assert moved()
    assert _stamp(other.id) == 0  # another business's stamp never moves with this one's schedules
    # A business deleted with its schedules (the cascade's triggers find no business to stamp).
    shop_id = shop.id
    db.session.execute(delete(Business.__table__).where(Business.id == shop_id))
    db.session.commit()
    assert db.session.get(Business, shop_id) is None


def test_the_kept_names_follow_every_kind_of_write(factory):
    shop = factory.business("Names Shop")
    owner = factory.user(shop, role="owner")

    def names() -> list[str]:
        return [name for _, name in schedule_service.schedule_names(db.session.get(Business, shop.id))]

    assert names() == []
    schedule_service.create_schedule(shop, owner, schedule_data(name="Weekly sales"))
    db.session.expire_all()  # a new request reads the business again
    assert names() == ["Weekly sales"]
    table = ExportSchedule.__table__
    db.session.execute(insert(table), [_schedule_row(shop.id, "Another process's")])
    db.session.commit()
    assert names() == ["Another process's", "Weekly sales"]
    db.session.execute(update(table).where(table.c.name == "Weekly sales").values(name="Daily sales"))
    db.session.commit()
    assert names() == ["Another process's", "Daily sales"]
    db.session.execute(delete(table).where(table.c.name == "Another process's"))
    db.session.commit()
    assert names() == ["Daily sales"]


def test_the_migration_adds_the_stamp_and_installs_the_triggers(tmp_path):
    with migrated_database(tmp_path, "_stamp_mig") as url:
        flask_db(tmp_path, url, "upgrade", "c5f2a8d4e6b9")  # the schema before the stamp
        engine = create_engine(url)
        shop_id = uuid.uuid4()
        old_business = table_as_migrated(engine, Business.__table__)
        old_schedules = table_as_migrated(engine, ExportSchedule.__table__)
        with engine.begin() as connection:
            connection.execute(
                insert(old_business),
                [{"id": shop_id, "name": "Old Shop", "timezone": "UTC", "currency": "USD"}],
            )
            connection.execute(insert(old_schedules), [_schedule_row(shop_id, "Before")])
        flask_db(tmp_path, url, "upgrade")
        flask_db(tmp_path, url, "check")  # the models and the migrated schema agree
        stamp = select(Business.schedules_stamp).where(Business.id == shop_id)
        table = ExportSchedule.__table__
        with engine.begin() as connection:
            assert connection.execute(stamp).scalar_one() == 0
            connection.execute(insert(table), [_schedule_row(shop_id, "After")])
            assert connection.execute(stamp).scalar_one() == 1
            connection.execute(update(table).values(name="Renamed").where(table.c.name == "After"))
            assert connection.execute(stamp).scalar_one() == 2
            connection.execute(update(table).values(is_active=False))
            assert connection.execute(stamp).scalar_one() == 2
            connection.execute(delete(table).where(table.c.name == "Renamed"))
            assert connection.execute(stamp).scalar_one() == 3
        engine.dispose()
        flask_db(tmp_path, url, "downgrade", "c5f2a8d4e6b9")
        engine = create_engine(url)
        old_schedules = table_as_migrated(engine, ExportSchedule.__table__)
        with engine.begin() as connection:  # no trigger is left pointing at the dropped column
            connection.execute(insert(old_schedules), [_schedule_row(shop_id, "Downgraded")])
            connection.execute(update(old_schedules).values(name="Renamed again"))
            connection.execute(delete(old_schedules))
        engine.dispose()
