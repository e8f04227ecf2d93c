"""Unknown top-level fields in a JSON body are a 400 naming each one (contract section 6; issue 15,
item 9): a typo such as `recipents` must never silently create a schedule that mails nobody.
The OpenAPI document says so too (`additionalProperties: false` on every request body)."""

from __future__ import annotations

import pytest

from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule
from dashboard.models.automation import ExportNotificationSettings
from tests.api.conftest import BASE

UNKNOWN = ["Unknown field."]

SCHEDULE = {
    "name": "Weekly sales",
    "export_type": "SALES",
    "format": "csv",
    "frequency": "WEEKLY",
    "hour": 8,
    "day_of_week": 0,
    "recipients": ["accounts@example.com"],
    "filters": {"date_range": "last_7_days"},
}


@pytest.fixture
def schedule_id(owner_api) -> str:
    response = owner_api.post(f"{BASE}/schedules/", json=SCHEDULE)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return (
        db.session.query(ExportSchedule).count(),
        db.session.query(ExportHistory).count(),
        db.session.query(ExportNotificationSettings).count(),
    )


def _requests(schedule_id: str) -> list[tuple[str, str, dict, str]]:
    """(method, path, a body that is right but for its unknown field, that field)."""
    return [
        ("POST", f"{BASE}/schedules/", {**SCHEDULE, "recipents": ["boss@example.com"]}, "recipents"),
        ("PUT", f"{BASE}/schedules/{schedule_id}/", {**SCHEDULE, "nmae": "Typo"}, "nmae"),
        ("PATCH", f"{BASE}/schedules/{schedule_id}/", {"name": "New name", "is_actve": False}, "is_actve"),
        ("POST", f"{BASE}/schedules/{schedule_id}/trigger/", {"send_emails": False}, "send_emails"),
        ("POST", f"{BASE}/schedules/preview/", {"frequency": "DAILY", "hour": 8, "cout": 3}, "cout"),
        (
            "POST",
            "/api/reports/exports/",
            {
                "export_type": "SALES",
                "format": "csv",
                "filters": {"date_range": "today"},
                "recipient": ["a@example.com"],
            },
            "recipient",
        ),
        (
            "PUT",
            f"{BASE}/notifications/",
            {"notify_on_success": True, "reply_to": "x@example.com"},
            "reply_to",
        ),
        ("PATCH", f"{BASE}/notifications/", {"from_nmae": "Shop"}, "from_nmae"),
    ]


def test_every_body_with_an_unknown_field_is_a_400_naming_it_and_changes_nothing(owner_api, schedule_id):
    owner_api.get(f"{BASE}/notifications/")  # (the settings row is made, with defaults, on first read)
    before = _counts()
    stored = owner_api.get(f"{BASE}/schedules/{schedule_id}/").get_json()
    for method, path, body, field in _requests(schedule_id):
        response = owner_api._call(method, path, json=body)
        assert response.status_code == 400, (method, path, response.status_code, response.get_json())
        assert response.get_json() == {"errors": {field: UNKNOWN}}, (method, path, response.get_json())
    assert _counts() == before
    after = owner_api.get(f"{BASE}/schedules/{schedule_id}/").get_json()
    assert {k: after[k] for k in SCHEDULE} == {k: stored[k] for k in SCHEDULE}
    assert owner_api.get(f"{BASE}/notifications/").get_json()["reply_to_email"] == ""


def test_unknown_fields_are_named_beside_the_other_errors(owner_api):
    response = owner_api.post(
        f"{BASE}/schedules/", json={**SCHEDULE, "hour": 99, "recipents": [], "extra": 1}
    )
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert errors["recipents"] == UNKNOWN and errors["extra"] == UNKNOWN and "hour" in errors


def test_a_body_full_of_unknown_fields_gets_a_short_answer(owner_api):
    body = {**SCHEDULE, **{f"field_{n}": n for n in range(5000)}, "x" * 5000: 1}
    response = owner_api.post(f"{BASE}/schedules/", json=body)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert len(errors) <= 11 and len(response.get_data()) < 2000
    assert all(len(name) <= 100 for name in errors)


def test_the_known_fields_alone_still_work(owner_api, schedule_id):
    assert owner_api.patch(f"{BASE}/schedules/{schedule_id}/", json={"name": "Renamed"}).status_code == 200
    trigger = owner_api.post(f"{BASE}/schedules/{schedule_id}/trigger/", json={"send_email": False})
    assert trigger.status_code == 202
    assert owner_api.post(f"{BASE}/schedules/{schedule_id}/trigger/").status_code == 202  # no body at all


def test_the_openapi_document_forbids_additional_properties_on_every_request_body(client):
    document = client.get("/api/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body:
                continue
            schema = body["content"]["application/json"]["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
            assert schema.get("additionalProperties") is False, (method, path)
            checked += 1
    assert checked >= 8
