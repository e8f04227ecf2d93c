"""recipes/ and presets/ (contract section 6): every recipe is a body POST schedules/ accepts once
recipients are added; presets are listed, created and deleted per business, with audit entries."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportSchedule, SchedulePreset
from tests.api.conftest import BASE, ApiClient, bearer


def test_recipes_are_a_plain_array_of_the_five_ready_made_schedules(owner_api):
    response = owner_api.get(f"{BASE}/recipes/")
    assert response.status_code == 200
    recipes = response.get_json()
    assert isinstance(recipes, list)
    assert [r["name"] for r in recipes] == [
        "Yesterday's sales every morning at 7",
        "Last week's sales on Monday at 8",
        "Inventory at month end",
        "Customers with store credit each month",
        "This week's audit log on Friday",
    ]
    for recipe in recipes:
        assert set(recipe) == {"id", "name", "description", "schedule"}
        assert recipe["description"]


def test_each_recipe_creates_a_schedule_once_recipients_are_added(owner_api, tenant):
    recipes = owner_api.get(f"{BASE}/recipes/").get_json()
    for recipe in recipes:
        body = dict(recipe["schedule"], recipients=["books@example.com"])
        response = owner_api.post(f"{BASE}/schedules/", json=body)
        assert response.status_code == 201, (recipe["id"], response.get_json())
        created = response.get_json()
        assert created["recipients"] == ["books@example.com"]
        assert created["next_run_at"]
    assert db.session.scalar(select(db.func.count()).select_from(ExportSchedule)) == len(recipes)


def test_the_morning_sales_recipe_is_yesterdays_sales_as_excel_every_day_at_seven(owner_api):
    recipe = next(r for r in owner_api.get(f"{BASE}/recipes/").get_json() if r["id"] == "yesterdays-sales")
    schedule = recipe["schedule"]
    assert (schedule["export_type"], schedule["format"], schedule["frequency"]) == ("SALES", "excel", "DAILY")
    assert (schedule["hour"], schedule["minute"]) == (7, 0)
    assert schedule["filters"] == {"date_range": "yesterday"}
    assert schedule["include_creator_email"] is True


def test_recipes_need_a_signed_in_member(anon_api):
    assert anon_api.get(f"{BASE}/recipes/").status_code == 401


PRESET = {
    "name": "Takings",
    "export_type": "SALES",
    "formats": ["excel"],
    "filters": {"date_range": "yesterday"},
}


def test_a_manager_saves_a_preset_the_owner_then_sees(manager_api, owner_api, tenant):
    response = manager_api.post(f"{BASE}/presets/", json=PRESET)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["name"] == "Takings"
    assert created["format"] == "excel" and created["formats"] == ["excel"]
    assert created["filters"] == {"date_range": "yesterday"}
    assert created["created_by_name"] == "Manny Manager"
    assert response.headers["Location"].endswith(f"/presets/{created['id']}/")

    listed = owner_api.get(f"{BASE}/presets/").get_json()
    assert listed["count"] == 1 and listed["next"] is None
    assert listed["results"][0]["id"] == created["id"]
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "preset.create"))
    assert audit is not None and audit.user_id == tenant.manager.id and audit.entity_id == created["id"]


def test_a_preset_fills_a_schedule_body(owner_api):
    preset = owner_api.post(f"{BASE}/presets/", json=PRESET).get_json()
    body = {**preset["schedule"], "name": "From a preset", "frequency": "DAILY", "hour": 7}
    response = owner_api.post(f"{BASE}/schedules/", json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["filters"] == {"date_range": "yesterday"}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**PRESET, "name": "  "}, "name", "Enter a name for the preset."),
        ({**PRESET, "export_type": "PAYROLL"}, "export_type", "Choose an export type"),
        ({**PRESET, "formats": ["docx"]}, "formats", "Choose one or more formats"),
        ({**PRESET, "formats": []}, "formats", "Choose one or more formats"),
        ({**PRESET, "filters": {"date_range": "fortnight"}}, "filters.date_range", "Choose a date range"),
        ({**PRESET, "filters": {}}, "filters.date_range", ""),
        ({**PRESET, "recipents": ["a@example.com"]}, "recipents", "Unknown field."),
        ({**PRESET, "format": "csv"}, "format", "first of formats"),
    ],
)
def test_a_bad_preset_is_a_400_naming_the_field_and_saves_nothing(owner_api, body, field, words):
    response = owner_api.post(f"{BASE}/presets/", json=body)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert db.session.scalar(select(db.func.count()).select_from(SchedulePreset)) == 0


def test_a_name_is_used_once_per_business_but_another_business_may_use_it(owner_api, other_api):
    assert owner_api.post(f"{BASE}/presets/", json=PRESET).status_code == 201
    again = owner_api.post(f"{BASE}/presets/", json={**PRESET, "name": "takings"})
    # 409: a well-formed name that conflicts with a stored one (issue 16 item 5; was 400).
    assert again.status_code == 409
    assert "already exists" in again.get_json()["errors"]["name"][0]
    assert other_api.post(f"{BASE}/presets/", json=PRESET).status_code == 201


def test_another_business_cannot_see_or_delete_a_preset(owner_api, other_api):
    preset = owner_api.post(f"{BASE}/presets/", json=PRESET).get_json()
    assert other_api.get(f"{BASE}/presets/").get_json()["count"] == 0
    assert other_api.get(f"{BASE}/presets/{preset['id']}/").status_code == 404
    assert other_api.delete(f"{BASE}/presets/{preset['id']}/").status_code == 404
    assert owner_api.get(f"{BASE}/presets/{preset['id']}/").status_code == 200


def test_an_owner_deletes_any_preset_a_manager_only_their_own(
    app, client, owner_api, manager_api, factory, tenant
):
    owners = owner_api.post(f"{BASE}/presets/", json=PRESET).get_json()
    managers = manager_api.post(f"{BASE}/presets/", json={**PRESET, "name": "Mine"}).get_json()
    refused = manager_api.delete(f"{BASE}/presets/{owners['id']}/")
    assert refused.status_code == 403
    assert "Only an owner" in refused.get_json()["detail"]
    other_manager = factory.user(tenant.business, role="manager", email="second@shop-one.example.com")
    second = ApiClient(client, bearer(other_manager, tenant.business))
    assert second.delete(f"{BASE}/presets/{managers['id']}/").status_code == 403
    assert manager_api.delete(f"{BASE}/presets/{managers['id']}/").status_code == 204
    assert owner_api.delete(f"{BASE}/presets/{owners['id']}/").status_code == 204
    assert owner_api.get(f"{BASE}/presets/").get_json()["count"] == 0
    deleted = db.session.scalars(select(AuditLog).where(AuditLog.action == "preset.delete")).all()
    assert {entry.entity_id for entry in deleted} == {owners["id"], managers["id"]}
