"""The history lists keep what they worked out for a run by its whole content (issue 21): a kept
record or row is never shown once the run has changed, each person gets their own form token in
kept rows, and HISTORY_CACHE_ROWS=0 keeps nothing."""

from __future__ import annotations

import re

from dashboard.extensions import db
from dashboard.services import history as history_service
from dashboard.web import history as history_web
from tests.conftest import PASSWORD

API = "/api/reports/automation/history/"


def _tokens(body: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', body))


def test_a_run_that_changes_is_shown_as_it_is_now(app, owner, tenant, make_run, api_token):
    app.config["HISTORY_CACHE_PAGES"] = 0  # the rows, not the whole page (tests/web/test_kept_pages.py)
    run = make_run(tenant.business, schedule_name="Nightly sales", record_count=120)
    headers = api_token(tenant.owner, tenant.business)
    for _ in range(2):  # the second time from what was kept
        listed = owner.get(API, headers=headers).get_json()["results"][0]
        assert listed["record_count"] == 120 and listed["download_url"] is None
        assert "120" in owner.get("/history/").get_data(as_text=True)
    hits = history_service._RECORDS.hits, history_web._ROWS.hits
    assert owner.get(API, headers=headers).status_code == 200 and owner.get("/history/").status_code == 200
    assert history_service._RECORDS.hits > hits[0] and history_web._ROWS.hits > hits[1]  # reused

    run.record_count = 98765
    run.file_path = "business/file.csv"
    run.schedule_name = "Renamed"
    db.session.commit()
    listed = owner.get(API, headers=headers).get_json()["results"][0]
    assert listed["record_count"] == 98765 and listed["schedule_name"] == "Renamed"
    assert listed["download_url"] == f"{API}{run.id}/download/"
    body = owner.get("/history/").get_data(as_text=True)
    assert "98,765" in body and "Renamed" in body and "Nightly sales" not in body


def test_a_user_renamed_is_a_changed_row(owner, tenant, make_run, api_token):
    make_run(tenant.business, user_id=tenant.manager.id)
    headers = api_token(tenant.owner, tenant.business)
    assert owner.get(API, headers=headers).get_json()["results"][0]["user_name"] == "Manny Manager"
    tenant.manager.name = "Manny Renamed"
    db.session.commit()
    assert owner.get(API, headers=headers).get_json()["results"][0]["user_name"] == "Manny Renamed"


def test_kept_rows_carry_each_persons_own_form_token(app, tenant, make_run, auth):
    make_run(tenant.business)
    make_run(tenant.business, status="FAILED", error_message="The database did not answer.")
    bodies = []
    for email in (tenant.owner.email, tenant.manager.email):
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
        body = client.get("/history/").get_data(as_text=True)
        assert "row-csrf" not in body
        bodies.append(body)
    owner_tokens, manager_tokens = _tokens(bodies[0]), _tokens(bodies[1])
    assert len(owner_tokens) == 1 and len(manager_tokens) == 1  # the page's forms and every row's
    assert owner_tokens != manager_tokens


def test_a_business_timezone_is_part_of_a_kept_row(owner, tenant, make_run):
    make_run(tenant.business)
    utc_body = owner.get("/history/").get_data(as_text=True)
    tenant.business.timezone = "Asia/Tokyo"
    db.session.commit()
    tokyo_body = owner.get("/history/").get_data(as_text=True)
    assert "UTC</time>" in utc_body and "JST</time>" in tokyo_body


def test_size_zero_keeps_nothing(app, owner, tenant, make_run, api_token):
    app.config["HISTORY_CACHE_ROWS"] = 0
    make_run(tenant.business)
    headers = api_token(tenant.owner, tenant.business)
    for _ in range(3):
        assert owner.get(API, headers=headers).status_code == 200
        assert owner.get("/history/").status_code == 200
    assert len(history_service._RECORDS) == 0 and len(history_web._ROWS) == 0


def test_the_kept_filter_form_follows_the_schedules_and_the_chosen_values(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner, name="Weekly sales")
    assert ">Weekly sales</option>" in owner.get("/history/").get_data(as_text=True)
    schedule.name = "Monday sales"
    db.session.commit()
    body = owner.get("/history/").get_data(as_text=True)
    assert ">Monday sales</option>" in body and "Weekly sales" not in body
    chosen = owner.get("/history/?status=FAILED").get_data(as_text=True)
    assert '<option value="FAILED" selected>' in chosen and "1 on" in chosen
    assert '<option value="FAILED" selected>' not in owner.get("/history/").get_data(as_text=True)
