"""The schedules service: next_run_at rules, audit entries, shop scoping, lists and preview."""

from __future__ import annotations

import json
import uuid

import pytest

from dashboard.core.errors import ValidationError
from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule
from dashboard.services.schedules import (
    activate_schedule,
    create_schedule,
    deactivate_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    overdue_schedules,
    preview_occurrences,
    upcoming_schedules,
    update_schedule,
)
from tests.services.service_helpers import add_run, audit_actions, make_tenant, utc, valid_schedule

NOW = utc(2024, 3, 15, 6, 0)  # a Friday


def details(entry) -> dict:
    return json.loads(entry.details)


# --------------------------------------------------------------------------------------------
# Create


def test_create_computes_next_run_and_audits(shop):
    schedule = create_schedule(shop.business, shop.owner, valid_schedule(), now=NOW)
    assert schedule.next_run_at == utc(2024, 3, 15, 8, 0)
    assert schedule.created_by_id == shop.owner.id and schedule.business_id == shop.business.id
    assert schedule.timezone == "UTC"  # the business's
    [entry] = audit_actions(shop.business)
    assert (entry.action, entry.entity, entry.entity_id) == (
        "schedule.create",
        "export_schedule",
        str(schedule.id),
    )
    assert entry.user_id == shop.owner.id
    assert details(entry)["name"] == "Daily Sales Export"
    assert details(entry)["next_run_at"] == "2024-03-15T08:00:00Z"


def test_create_in_the_business_timezone(other_shop):
    business, user = other_shop.business, other_shop.owner
    schedule = create_schedule(business, user, valid_schedule(hour=8, minute=30), now=NOW)
    assert schedule.timezone == "America/New_York"
    assert schedule.next_run_at == utc(2024, 3, 15, 12, 30)  # 08:30 EDT


def test_create_inactive_has_no_next_run(shop):
    schedule = create_schedule(shop.business, shop.manager, valid_schedule(is_active=False), now=NOW)
    assert schedule.is_active is False and schedule.next_run_at is None


def test_invalid_create_writes_nothing(shop):
    with pytest.raises(ValidationError):
        create_schedule(shop.business, shop.owner, valid_schedule(hour=24), now=NOW)
    assert db.session.scalar(db.select(db.func.count()).select_from(ExportSchedule)) == 0
    assert audit_actions(shop.business) == []


# --------------------------------------------------------------------------------------------
# Update: next_run_at moves only when the timing changes


@pytest.fixture
def schedule(shop):
    return create_schedule(shop.business, shop.owner, valid_schedule(), now=NOW)


def test_update_without_timing_change_keeps_next_run(shop, schedule):
    later = utc(2024, 3, 15, 9, 0)  # past the stored next run: it must stay due, not move
    update_schedule(schedule, shop.manager, {"name": "Renamed", "recipients": []}, partial=True, now=later)
    assert schedule.next_run_at == utc(2024, 3, 15, 8, 0)
    entry = audit_actions(shop.business)[-1]
    assert entry.action == "schedule.update" and entry.user_id == shop.manager.id
    assert details(entry) == {
        "name": ["Daily Sales Export", "Renamed"],
        "recipients": [["accounting@company.com", "manager@company.com"], []],
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"hour": 9}, utc(2024, 3, 15, 9, 0)),
        ({"minute": 15}, utc(2024, 3, 15, 8, 15)),
        ({"timezone": "Asia/Tokyo"}, utc(2024, 3, 15, 23, 0)),  # 08:00 JST on the 16th
        ({"frequency": "WEEKLY", "day_of_week": 0}, utc(2024, 3, 18, 8, 0)),
        ({"frequency": "MONTHLY", "day_of_month": -1}, utc(2024, 3, 31, 8, 0)),
        ({"frequency": "MONTHLY", "week_of_month": 2, "day_of_week": 1}, utc(2024, 4, 9, 8, 0)),
    ],
)
def test_update_of_a_timing_field_recalculates(shop, schedule, change, expected):
    update_schedule(schedule, shop.owner, change, partial=True, now=NOW)
    assert schedule.next_run_at == expected
    assert details(audit_actions(shop.business)[-1])["next_run_at"] == [
        "2024-03-15T08:00:00Z",
        expected.isoformat().replace("+00:00", "Z"),
    ]


def test_put_with_same_values_changes_nothing(shop, schedule):
    before = len(audit_actions(shop.business))
    update_schedule(schedule, shop.owner, valid_schedule(), now=utc(2024, 3, 20))
    assert schedule.next_run_at == utc(2024, 3, 15, 8, 0)
    assert len(audit_actions(shop.business)) == before


def test_update_is_active_clears_and_restores_next_run(shop, schedule):
    update_schedule(schedule, shop.owner, {"is_active": False}, partial=True, now=NOW)
    assert schedule.next_run_at is None
    update_schedule(schedule, shop.owner, {"is_active": True}, partial=True, now=utc(2024, 3, 16, 9))
    assert schedule.next_run_at == utc(2024, 3, 17, 8, 0)


def test_invalid_update_changes_nothing(shop, schedule):
    with pytest.raises(ValidationError) as info:
        update_schedule(schedule, shop.owner, {"hour": 9, "recipients": ["bad"]}, partial=True, now=NOW)
    assert list(info.value.errors) == ["recipients"]
    db.session.refresh(schedule)
    assert schedule.hour == 8 and schedule.next_run_at == utc(2024, 3, 15, 8, 0)
    assert [e.action for e in audit_actions(shop.business)] == ["schedule.create"]


def test_patch_frequency_to_daily_drops_the_stored_day(shop):
    weekly = create_schedule(
        shop.business, shop.owner, valid_schedule(frequency="WEEKLY", day_of_week=2), now=NOW
    )
    update_schedule(weekly, shop.owner, {"frequency": "DAILY"}, partial=True, now=NOW)
    assert weekly.frequency == "DAILY" and weekly.day_of_week is None
    assert weekly.next_run_at == utc(2024, 3, 15, 8, 0)


# --------------------------------------------------------------------------------------------
# Activate, deactivate, delete


def test_activate_and_deactivate_are_idempotent(shop, schedule):
    deactivate_schedule(schedule, shop.owner)
    deactivate_schedule(schedule, shop.owner)
    assert schedule.is_active is False and schedule.next_run_at is None
    activate_schedule(schedule, shop.owner, now=utc(2024, 3, 15, 10))
    activate_schedule(schedule, shop.owner, now=utc(2024, 3, 16, 10))
    assert schedule.is_active is True and schedule.next_run_at == utc(2024, 3, 16, 8, 0)
    actions = [e.action for e in audit_actions(shop.business)]
    assert actions == ["schedule.create", "schedule.deactivate", "schedule.activate"]


def test_activate_keeps_an_overdue_run_due(shop, schedule):
    activate_schedule(schedule, shop.owner, now=utc(2024, 3, 15, 9))
    assert schedule.next_run_at == utc(2024, 3, 15, 8, 0)


def test_delete_keeps_history_with_its_name(shop, schedule):
    named = add_run(shop.business, schedule_id=schedule.id, schedule_name="Old name")
    unnamed = add_run(shop.business, schedule_id=schedule.id)
    schedule_id = schedule.id
    delete_schedule(schedule, shop.owner)
    assert db.session.get(ExportSchedule, schedule_id) is None
    db.session.expire_all()
    named, unnamed = db.session.get(ExportHistory, named.id), db.session.get(ExportHistory, unnamed.id)
    assert named.schedule_id is None and named.schedule_name == "Old name"
    assert unnamed.schedule_id is None and unnamed.schedule_name == "Daily Sales Export"
    entry = audit_actions(shop.business)[-1]
    assert (entry.action, entry.entity_id) == ("schedule.delete", str(schedule_id))
    assert details(entry)["name"] == "Daily Sales Export"


# --------------------------------------------------------------------------------------------
# Scoping and lists


def test_get_schedule_is_scoped_to_the_business(shop, other_shop, schedule):
    theirs = create_schedule(other_shop.business, other_shop.owner, valid_schedule(), now=NOW)
    assert get_schedule(shop.business, schedule.id) is schedule
    assert get_schedule(shop.business, str(schedule.id)) is schedule
    assert get_schedule(shop.business, theirs.id) is None
    for bad in ("not-a-uuid", "", None, str(uuid.uuid4()), 42):
        assert get_schedule(shop.business, bad) is None


def test_list_schedules_filters(shop, other_shop):
    def make(name, **changes):
        return create_schedule(shop.business, shop.owner, valid_schedule(name=name, **changes), now=NOW)

    make("b daily sales")
    make("A weekly customers", export_type="CUSTOMERS", filters={}, frequency="WEEKLY", day_of_week=1)
    make("C paused 100%", is_active=False)
    create_schedule(other_shop.business, other_shop.owner, valid_schedule(name="other"), now=NOW)

    def names(**kwargs):
        return [s.name for s in db.session.scalars(list_schedules(shop.business, **kwargs))]

    assert names() == ["A weekly customers", "b daily sales", "C paused 100%"]
    assert names(is_active=False) == ["C paused 100%"]
    assert names(is_active=True) == ["A weekly customers", "b daily sales"]
    assert names(export_type="CUSTOMERS") == ["A weekly customers"]
    assert names(frequency="DAILY") == ["b daily sales", "C paused 100%"]
    assert names(search="SALES") == ["b daily sales"]
    assert names(search="100%") == ["C paused 100%"]
    assert names(search="%") == ["C paused 100%"]  # a literal percent sign, not a wildcard
    assert names(search="_") == []


def test_upcoming_and_overdue(shop, other_shop):
    def make(name, hour, **changes):
        return create_schedule(
            shop.business, shop.owner, valid_schedule(name=name, hour=hour, **changes), now=NOW
        )

    s7 = make("seven", 7)  # next run 07:00
    s9 = make("nine", 9)
    make("paused", 8, is_active=False)
    create_schedule(other_shop.business, other_shop.owner, valid_schedule(hour=6), now=NOW)
    at = utc(2024, 3, 15, 8, 0)
    assert upcoming_schedules(shop.business, now=at) == [s9]
    assert overdue_schedules(shop.business, now=at) == [s7]
    assert [s.name for s in upcoming_schedules(shop.business, now=NOW)] == ["seven", "nine"]
    assert upcoming_schedules(shop.business, limit=1, now=NOW) == [s7]
    assert overdue_schedules(shop.business, now=NOW) == []


# --------------------------------------------------------------------------------------------
# Preview


def test_preview_in_the_contract_shape(other_shop):
    business = other_shop.business
    result = preview_occurrences(
        {"frequency": "DAILY", "hour": 2, "minute": 30, "after": "2027-03-13T12:00:00Z", "count": 2}, business
    )
    assert result == {
        "timezone": "America/New_York",
        "description": "Every day at 02:30 (America/New_York)",
        "occurrences": [
            {"utc": "2027-03-14T07:30:00Z", "local": "2027-03-14T03:30:00-04:00", "dst_shifted": True},
            {"utc": "2027-03-15T06:30:00Z", "local": "2027-03-15T02:30:00-04:00", "dst_shifted": False},
        ],
    }


def test_preview_defaults_to_now_and_five(shop):
    result = preview_occurrences({"frequency": "WEEKLY", "hour": 9, "day_of_week": 0}, shop.business, now=NOW)
    assert [o["utc"] for o in result["occurrences"]] == [
        "2024-03-18T09:00:00Z",
        "2024-03-25T09:00:00Z",
        "2024-04-01T09:00:00Z",
        "2024-04-08T09:00:00Z",
        "2024-04-15T09:00:00Z",
    ]


def test_preview_too_late_is_a_field_error(shop):
    with pytest.raises(ValidationError) as info:
        preview_occurrences({"frequency": "DAILY", "hour": 9, "after": "9999-12-31T12:00:00Z"}, shop.business)
    assert list(info.value.errors) == ["after"]


def test_recipient_cap_comes_from_the_app_config(app_factory):
    app = app_factory(MAX_RECIPIENTS=2)
    with app.app_context():
        shop = make_tenant("Capped")
        three = valid_schedule(recipients=["a@example.com", "b@example.com", "c@example.com"])
        with pytest.raises(ValidationError) as info:
            create_schedule(shop.business, shop.owner, three, now=NOW)
        assert info.value.errors == {"recipients": ["At most 2 recipients."]}
        two = valid_schedule(recipients=["a@example.com", "b@example.com", "A@EXAMPLE.COM"])
        assert create_schedule(shop.business, shop.owner, two, now=NOW).recipients == [
            "a@example.com",
            "b@example.com",
        ]
