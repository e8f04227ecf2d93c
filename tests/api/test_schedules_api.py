"""/api/reports/automation/schedules/: every endpoint's shape and status, each validation rule, the
seed's usage examples, list filters and pagination."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory, ExportSchedule
from tests.api.conftest import BASE, make_schedule

SCHEDULES = f"{BASE}/schedules/"

SCHEDULE_FIELDS = {
    "id",
    "name",
    "export_type",
    "format",
    "frequency",
    "hour",
    "minute",
    "day_of_week",
    "day_of_month",
    "week_of_month",
    "timezone",
    "recipients",
    "include_creator_email",
    "email_subject",
    "email_message",
    "filters",
    "skip_if_empty",
    "is_active",
    "last_run_at",
    "next_run_at",
    "created_at",
    "updated_at",
    "created_by_name",
    "next_run_display",
    "last_run_display",
    "status_display",
    "next_runs",
}


def parse_utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def valid_body(**overrides) -> dict:
    body = {
        "name": "Daily sales",
        "export_type": "SALES",
        "format": "excel",
        "frequency": "DAILY",
        "hour": 8,
        "recipients": ["accounting@example.com"],
        "filters": {"date_range": "yesterday"},
    }
    body.update(overrides)
    return body


# --------------------------------------------------------------------------------------------
# The seed's three usage examples, posted exactly as the seed writes them (less the // comments)

SEED_EXAMPLE_1 = """{
  "name": "Daily Sales Report - 8 AM",
  "export_type": "SALES",
  "format": "excel",
  "frequency": "DAILY",
  "hour": 8,
  "recipients": ["accounting@company.com"],
  "include_creator_email": true,
  "email_subject": "Daily Sales Report",
  "filters": {
    "start_date": "2024-01-01",
    "end_date": "2024-12-31"
  },
  "is_active": true
}"""

SEED_EXAMPLE_2 = """{
  "name": "Weekly Customer List - Monday 9 AM",
  "export_type": "CUSTOMERS",
  "format": "csv",
  "frequency": "WEEKLY",
  "hour": 9,
  "day_of_week": 0,
  "recipients": ["sales@company.com", "manager@company.com"],
  "include_creator_email": false,
  "email_subject": "Weekly Customer Database",
  "filters": {
    "include_credit_history": true
  },
  "is_active": true
}"""

SEED_EXAMPLE_3 = """{
  "name": "Monthly Inventory Snapshot",
  "export_type": "INVENTORY",
  "format": "pdf",
  "frequency": "MONTHLY",
  "hour": 0,
  "day_of_month": 1,
  "recipients": ["inventory@company.com"],
  "include_creator_email": true,
  "email_subject": "Monthly Inventory Report",
  "email_message": "Please review the attached inventory snapshot for the previous month.",
  "filters": {
    "exclude_zero_value": true
  },
  "is_active": true
}"""


def _post_raw(api, text: str):
    return api.post(SCHEDULES, data=text, headers={"Content-Type": "application/json"})


def test_seed_example_1_daily_sales_runs_every_day_at_8_utc(owner_api, tenant):
    before = datetime.now(UTC)
    response = _post_raw(owner_api, SEED_EXAMPLE_1)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    next_run = parse_utc(body["next_run_at"])
    assert (next_run.hour, next_run.minute, next_run.second) == (8, 0, 0)
    assert before < next_run <= before + timedelta(days=1)
    assert [parse_utc(o["utc"]) - next_run for o in body["next_runs"]] == [
        timedelta(days=i) for i in range(5)
    ]
    assert body["timezone"] == "UTC" and body["frequency"] == "DAILY"
    assert body["filters"] == {"start_date": "2024-01-01", "end_date": "2024-12-31"}
    schedule = db.session.get(ExportSchedule, uuid.UUID(body["id"]))
    # accounting@ plus the creator (include_creator_email), as the seed's result says
    assert schedule.get_recipients_list() == ["accounting@company.com", tenant.owner.email]


def test_seed_example_1_with_a_date_range(owner_api):
    text = SEED_EXAMPLE_1.replace(
        '"start_date": "2024-01-01",\n    "end_date": "2024-12-31"', '"date_range": "yesterday"'
    )
    assert '"date_range": "yesterday"' in text
    response = _post_raw(owner_api, text)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    next_run = parse_utc(body["next_run_at"])
    assert (next_run.hour, next_run.minute) == (8, 0)
    assert next_run - datetime.now(UTC) <= timedelta(days=1)
    assert body["filters"] == {"date_range": "yesterday"}


def test_seed_example_2_weekly_customers_runs_on_mondays_at_9_utc(owner_api, tenant):
    before = datetime.now(UTC)
    response = _post_raw(owner_api, SEED_EXAMPLE_2)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    next_run = parse_utc(body["next_run_at"])
    assert next_run.weekday() == 0 and (next_run.hour, next_run.minute) == (9, 0)
    assert before < next_run <= before + timedelta(days=7)
    schedule = db.session.get(ExportSchedule, uuid.UUID(body["id"]))
    assert schedule.get_recipients_list() == ["sales@company.com", "manager@company.com"]


def test_seed_example_3_monthly_inventory_runs_on_the_1st_at_midnight_utc(owner_api):
    before = datetime.now(UTC)
    response = _post_raw(owner_api, SEED_EXAMPLE_3)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    next_run = parse_utc(body["next_run_at"])
    assert (next_run.day, next_run.hour, next_run.minute) == (1, 0, 0)
    assert before < next_run <= before + timedelta(days=31)
    assert body["email_message"].startswith("Please review the attached inventory snapshot")
    assert all(parse_utc(o["utc"]).day == 1 for o in body["next_runs"])


# --------------------------------------------------------------------------------------------
# Create, retrieve, update, delete


def test_create_answers_201_with_every_field_and_audits(owner_api, tenant):
    response = owner_api.post(SCHEDULES, json=valid_body(minute=15, timezone="Europe/London"))
    assert response.status_code == 201
    body = response.get_json()
    assert SCHEDULE_FIELDS <= set(body)
    assert response.headers["Location"].endswith(f"/schedules/{body['id']}/")
    assert body["created_by_name"] == "Olive Owner"
    assert body["last_run_display"] == "Never run" and body["last_run_at"] is None
    assert body["status_display"] == "Active" and body["next_run_display"].startswith("In ")
    assert len(body["next_runs"]) == 5 and set(body["next_runs"][0]) >= {"utc", "local", "dst_shifted"}
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert body["timezone"] == "Europe/London" and body["minute"] == 15
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "schedule.create"))
    assert audit is not None and audit.entity_id == body["id"] and audit.business_id == tenant.business.id


def test_defaults_timezone_to_the_business_and_minute_to_zero(app, client, factory):
    from tests.api.conftest import ApiClient, bearer

    business = factory.business("Kolkata Shop", timezone="Asia/Kolkata")
    owner = factory.user(business, role="owner")
    api = ApiClient(client, bearer(owner, business))
    body = api.post(SCHEDULES, json=valid_body(hour=9)).get_json()
    assert body["timezone"] == "Asia/Kolkata" and body["minute"] == 0
    # 09:00 in Kolkata is 03:30 UTC
    assert body["next_run_at"].endswith("T03:30:00Z")


def test_managers_may_manage_schedules(manager_api):
    response = manager_api.post(SCHEDULES, json=valid_body())
    assert response.status_code == 201
    assert response.get_json()["created_by_name"] == "Manny Manager"


def test_retrieve(owner_api, schedule):
    response = owner_api.get(f"{SCHEDULES}{schedule.id}/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(schedule.id) and SCHEDULE_FIELDS <= set(body)


def test_put_replaces_and_recalculates_next_run(owner_api, schedule):
    body = valid_body(name="Weekly now", frequency="WEEKLY", hour=6, day_of_week=2, format="csv")
    response = owner_api.put(f"{SCHEDULES}{schedule.id}/", json=body)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    next_run = parse_utc(data["next_run_at"])
    assert data["name"] == "Weekly now" and next_run.weekday() == 2 and next_run.hour == 6


def test_put_needs_the_required_fields(owner_api, schedule):
    response = owner_api.put(f"{SCHEDULES}{schedule.id}/", json={"name": "Only a name"})
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert {"export_type", "format", "frequency", "hour"} <= set(errors)


def test_patch_changes_only_what_is_sent(owner_api, schedule):
    before = schedule.next_run_at
    response = owner_api.patch(f"{SCHEDULES}{schedule.id}/", json={"recipients": ["new@example.com"]})
    assert response.status_code == 200
    data = response.get_json()
    assert data["recipients"] == ["new@example.com"] and data["name"] == "Daily sales"
    assert parse_utc(data["next_run_at"]) == before.replace(microsecond=0)


def test_patch_of_timing_moves_next_run(owner_api, schedule):
    data = owner_api.patch(f"{SCHEDULES}{schedule.id}/", json={"hour": 23, "minute": 45}).get_json()
    next_run = parse_utc(data["next_run_at"])
    assert (next_run.hour, next_run.minute) == (23, 45)


def test_delete_answers_204_and_keeps_history(owner_api, schedule, tenant):
    from tests.api.conftest import make_history

    run = make_history(tenant.business, tenant.owner, schedule)
    response = owner_api.delete(f"{SCHEDULES}{schedule.id}/")
    assert response.status_code == 204 and response.data == b""
    assert owner_api.get(f"{SCHEDULES}{schedule.id}/").status_code == 404
    db.session.expire_all()
    kept = db.session.get(ExportHistory, run.id)
    assert kept is not None and kept.schedule_id is None and kept.schedule_name == "Daily sales"


def test_activate_and_deactivate_are_idempotent(owner_api, schedule):
    url = f"{SCHEDULES}{schedule.id}"
    first = owner_api.post(f"{url}/deactivate/")
    second = owner_api.post(f"{url}/deactivate/")
    assert first.status_code == second.status_code == 200
    assert first.get_json()["is_active"] is False and second.get_json()["next_run_at"] is None
    assert second.get_json()["status_display"] == "Inactive"
    first = owner_api.post(f"{url}/activate/")
    second = owner_api.post(f"{url}/activate/")
    assert first.status_code == second.status_code == 200
    assert first.get_json()["next_run_at"] == second.get_json()["next_run_at"] is not None
    assert second.get_json()["is_active"] is True


# --------------------------------------------------------------------------------------------
# Trigger


def test_trigger_answers_202_with_the_new_run(owner_api, schedule):
    before_next = schedule.next_run_at
    response = owner_api.post(f"{SCHEDULES}{schedule.id}/trigger/")
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert run["trigger"] == "API" and run["schedule"] == str(schedule.id)
    assert run["status"] in {"PENDING", "PROCESSING", "COMPLETED", "EMAILED", "FAILED"}
    assert "error_traceback" in run and run["attempt"] == 1
    db.session.expire_all()
    refreshed = db.session.get(ExportSchedule, schedule.id)
    assert refreshed.last_run_at is not None
    assert refreshed.next_run_at == before_next  # a manual run never moves next_run_at
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export.trigger")) is not None


def test_trigger_of_an_inactive_schedule_is_allowed(owner_api, tenant):
    schedule = make_schedule(tenant.business, tenant.owner, is_active=False, next_run_at=None)
    response = owner_api.post(f"{SCHEDULES}{schedule.id}/trigger/", json={"send_email": False})
    assert response.status_code == 202
    assert response.get_json()["send_email"] is False


def test_trigger_with_override_recipients(owner_api, schedule):
    response = owner_api.post(
        f"{SCHEDULES}{schedule.id}/trigger/",
        json={"send_email": True, "override_recipients": ["auditor@example.com", "AUDITOR@example.com"]},
    )
    assert response.status_code == 202
    assert response.get_json()["override_recipients"] == ["auditor@example.com"]


# --------------------------------------------------------------------------------------------
# upcoming, overdue, preview


def test_upcoming_lists_the_next_ten_active_schedules_in_order(owner_api, tenant):
    now = datetime.now(UTC)
    for i in range(12):
        make_schedule(
            tenant.business, tenant.owner, name=f"S{i:02}", next_run_at=now + timedelta(hours=12 - i)
        )
    make_schedule(tenant.business, tenant.owner, name="Off", is_active=False, next_run_at=None)
    response = owner_api.get(f"{SCHEDULES}upcoming/")
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body, list) and len(body) == 10
    times = [parse_utc(s["next_run_at"]) for s in body]
    assert times == sorted(times) and body[0]["name"] == "S11"


def test_overdue_lists_active_schedules_whose_time_has_passed(owner_api, tenant):
    now = datetime.now(UTC)
    late = make_schedule(tenant.business, tenant.owner, name="Late", next_run_at=now - timedelta(hours=2))
    make_schedule(tenant.business, tenant.owner, name="On time", next_run_at=now + timedelta(hours=2))
    make_schedule(
        tenant.business, tenant.owner, name="Off", is_active=False, next_run_at=now - timedelta(days=1)
    )
    body = owner_api.get(f"{SCHEDULES}overdue/").get_json()
    assert [s["id"] for s in body] == [str(late.id)]
    assert body[0]["status_display"] == "Overdue"


def test_preview_shows_the_contracts_shape_across_spring_forward(owner_api):
    response = owner_api.post(
        f"{SCHEDULES}preview/",
        json={
            "frequency": "DAILY",
            "hour": 2,
            "minute": 30,
            "timezone": "America/New_York",
            "after": "2027-03-12T12:00:00Z",
            "count": 3,
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["timezone"] == "America/New_York"
    assert body["occurrences"] == [
        {"utc": "2027-03-13T07:30:00Z", "local": "2027-03-13T02:30:00-05:00", "dst_shifted": False},
        {"utc": "2027-03-14T07:30:00Z", "local": "2027-03-14T03:30:00-04:00", "dst_shifted": True},
        {"utc": "2027-03-15T06:30:00Z", "local": "2027-03-15T02:30:00-04:00", "dst_shifted": False},
    ]


def test_preview_defaults_to_five_occurrences_in_the_business_timezone(owner_api):
    body = owner_api.post(
        f"{SCHEDULES}preview/", json={"frequency": "WEEKLY", "hour": 9, "day_of_week": 0}
    ).get_json()
    assert body["timezone"] == "UTC" and len(body["occurrences"]) == 5


def test_the_contracts_wider_day_rules_are_accepted(owner_api):
    for extra in (
        {"day_of_month": 31},
        {"day_of_month": -1},
        {"week_of_month": 2, "day_of_week": 1},
        {"week_of_month": -1, "day_of_week": 4},
    ):
        response = owner_api.post(SCHEDULES, json=valid_body(frequency="MONTHLY", **extra))
        assert response.status_code == 201, (extra, response.get_json())


def test_duplicate_recipients_are_silently_deduplicated(owner_api):
    body = owner_api.post(
        SCHEDULES, json=valid_body(recipients=["a@example.com", "A@Example.com", "b@example.com"])
    ).get_json()
    assert [r.lower() for r in body["recipients"]] == ["a@example.com", "b@example.com"]


def test_read_only_fields_sent_back_are_ignored(owner_api, schedule):
    current = owner_api.get(f"{SCHEDULES}{schedule.id}/").get_json()
    echoed = dict(current, name="Renamed", next_run_at="1999-01-01T00:00:00Z")
    response = owner_api.put(f"{SCHEDULES}{schedule.id}/", json=echoed)
    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"
    assert response.get_json()["next_run_at"] == current["next_run_at"]


def test_update_is_validated_too(owner_api, schedule):
    response = owner_api.patch(f"{SCHEDULES}{schedule.id}/", json={"hour": 99})
    assert response.status_code == 400 and "hour" in response.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get(ExportSchedule, schedule.id).hour == 8


# --------------------------------------------------------------------------------------------
# List: filters and pagination


def test_list_shape(owner_api, schedule):
    response = owner_api.get(SCHEDULES)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    assert SCHEDULE_FIELDS <= set(body["results"][0])


@pytest.fixture
def assorted(tenant):
    make_schedule(tenant.business, tenant.owner, name="A sales daily")
    make_schedule(
        tenant.business,
        tenant.owner,
        name="B customers weekly",
        export_type="CUSTOMERS",
        frequency="WEEKLY",
        day_of_week=0,
        filters={},
    )
    make_schedule(
        tenant.business,
        tenant.owner,
        name="C stock monthly off",
        export_type="INVENTORY",
        frequency="MONTHLY",
        day_of_month=1,
        filters={},
        is_active=False,
        next_run_at=None,
    )


@pytest.mark.parametrize(
    "query, names",
    [
        ("is_active=true", ["A sales daily", "B customers weekly"]),
        ("is_active=false", ["C stock monthly off"]),
        ("export_type=CUSTOMERS", ["B customers weekly"]),
        ("frequency=MONTHLY", ["C stock monthly off"]),
        ("frequency=DAILY&export_type=SALES&is_active=true", ["A sales daily"]),
        ("export_type=AUDIT_LOGS", []),
    ],
)
def test_list_filters(owner_api, assorted, query, names):
    body = owner_api.get(f"{SCHEDULES}?{query}").get_json()
    assert [s["name"] for s in body["results"]] == names and body["count"] == len(names)


@pytest.fixture
def twenty_five(tenant):
    for i in range(25):
        make_schedule(tenant.business, tenant.owner, name=f"Schedule {i:02}")


def test_pagination_defaults_to_twenty_with_absolute_next(owner_api, twenty_five):
    body = owner_api.get(SCHEDULES).get_json()
    assert body["count"] == 25 and len(body["results"]) == 20 and body["previous"] is None
    parts = urlsplit(body["next"])
    assert parts.scheme == "http" and parts.netloc == "localhost" and parts.path == SCHEDULES
    assert parse_qs(parts.query) == {"page": ["2"]}
    second = owner_api.get(body["next"]).get_json()
    assert len(second["results"]) == 5 and second["next"] is None
    assert parse_qs(urlsplit(second["previous"]).query) == {"page": ["1"]}


def test_pagination_keeps_the_other_parameters(owner_api, twenty_five):
    body = owner_api.get(f"{SCHEDULES}?is_active=true&page_size=10&page=2").get_json()
    assert [s["name"] for s in body["results"]][0] == "Schedule 10"
    assert parse_qs(urlsplit(body["next"]).query) == {
        "is_active": ["true"],
        "page_size": ["10"],
        "page": ["3"],
    }
    assert parse_qs(urlsplit(body["previous"]).query) == {
        "is_active": ["true"],
        "page_size": ["10"],
        "page": ["1"],
    }


def test_page_size_above_100_is_clamped(owner_api, tenant):
    for i in range(105):
        make_schedule(tenant.business, tenant.owner, name=f"S{i:03}")
    body = owner_api.get(f"{SCHEDULES}?page_size=500").get_json()
    assert len(body["results"]) == 100 and body["count"] == 105 and body["next"] is not None


def test_a_page_past_the_end_is_404(owner_api, twenty_five):
    assert owner_api.get(f"{SCHEDULES}?page=2").status_code == 200
    response = owner_api.get(f"{SCHEDULES}?page=3")
    assert response.status_code == 404 and "detail" in response.get_json()
    assert owner_api.get(f"{SCHEDULES}?page=6&page_size=5").status_code == 404
    assert owner_api.get(f"{SCHEDULES}?page=5&page_size=5").status_code == 200


def test_page_one_of_an_empty_list_is_an_empty_page(owner_api):
    body = owner_api.get(SCHEDULES).get_json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}
    assert owner_api.get(f"{SCHEDULES}?page=2").status_code == 404


def test_lists_show_only_this_business(owner_api, schedule, foreign_schedule):
    body = owner_api.get(SCHEDULES).get_json()
    assert [s["id"] for s in body["results"]] == [str(schedule.id)]
    assert owner_api.get(f"{SCHEDULES}upcoming/").get_json()[0]["id"] == str(schedule.id)
