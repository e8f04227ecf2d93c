"""`destinations` and `file_password` on schedules through the JSON API: declared once (validation
and the OpenAPI document), secrets write-only and kept when an update leaves them out, audited
without secrets, "send a test" per destination."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog
from dashboard.models.automation import ExportSchedule
from dashboard.services.destinations import plain_config
from dashboard.services.protection import file_password_of

from .test_webhook import SECRET, receiver_verifies

API = "/api/reports/automation/schedules/"


@pytest.fixture
def app(app_factory):
    application = app_factory(DESTINATIONS_ALLOW_PRIVATE=True, DESTINATIONS_TIMEOUT_SECONDS=2)
    with application.app_context():
        yield application


@pytest.fixture
def headers(tenant, api_token):
    return api_token(tenant.owner, tenant.business)


def body(**changes):
    values = {
        "name": "Monthly sales",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "MONTHLY",
        "hour": 7,
        "day_of_month": 1,
        "recipients": ["accounts@example.com"],
        "filters": {"date_range": "previous_month"},
    }
    values.update(changes)
    return values


def test_create_show_update_keeps_secrets_and_never_returns_them(client, headers, receiver):
    created = client.post(
        API,
        json=body(
            destinations=[
                {"kind": "webhook", "url": receiver.url, "secret": SECRET},
                {"kind": "slack", "url": receiver.url},
            ],
            file_password="correct horse battery",
        ),
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    shown = created.get_json()
    text = json.dumps(shown)
    assert SECRET not in text and "correct horse" not in text and 'file_password"' not in text
    webhook, slack = shown["destinations"]
    assert webhook["url"] == receiver.url and webhook["secrets_set"] == ["secret"]
    assert "url" not in slack and slack["target"] == "Slack (127.0.0.1)" and slack["secrets_set"] == ["url"]
    assert shown["file_password_set"] is True

    # GET-modify-PUT: what GET shows, sent back with one change, keeps every secret.
    got = client.get(f"{API}{shown['id']}/", headers=headers).get_json()
    got["destinations"][0]["url"] = receiver.url + "?v=2"
    got["name"] = "Monthly sales (v2)"
    replaced = client.put(f"{API}{shown['id']}/", json=got, headers=headers)
    assert replaced.status_code == 200, replaced.get_json()
    schedule = db.session.get(ExportSchedule, uuid.UUID(shown["id"]))
    db.session.refresh(schedule)
    assert plain_config(schedule.destinations[0])["secret"] == SECRET
    assert plain_config(schedule.destinations[0])["url"] == receiver.url + "?v=2"
    assert plain_config(schedule.destinations[1])["url"] == receiver.url
    assert file_password_of(schedule) == "correct horse battery"

    # A PATCH that leaves them out changes nothing of them; "" removes the password.
    assert (
        client.patch(f"{API}{shown['id']}/", json={"file_password": ""}, headers=headers).status_code == 200
    )
    db.session.refresh(schedule)
    assert schedule.file_password == "" and len(schedule.destinations) == 2

    entries = db.session.scalars(select(AuditLog).where(AuditLog.entity_id == shown["id"])).all()
    logged = " ".join(str(e.details) for e in entries)
    assert SECRET not in logged and "correct horse" not in logged
    assert "webhook: " in logged and '"set"' in logged


@pytest.mark.parametrize(
    ("destinations", "errors"),
    [
        (
            [{"kind": "webhook", "url": "https://hooks.example.com/x"}],
            {"destinations.0.secret": ["This field is required."]},
        ),
        (
            [{"kind": "slack", "url": "https://hooks.example.com/x", "channel": "#c"}],
            {"destinations.0.channel": ["Unknown field."]},
        ),
        ([{"kind": "pigeon"}], {"destinations.0.kind": ["Choose one of: s3, sftp, slack, teams, webhook."]}),
        ({"kind": "slack"}, {"destinations": ["Give a list of destinations."]}),
        (
            [{"kind": "sftp", "host": "h.example.com", "username": "u", "password": "p", "port": "22"}],
            {"destinations.0.port": ["Enter a whole number."]},
        ),
    ],
)
def test_bad_destinations_are_a_400_naming_the_field_and_create_nothing(
    client, headers, destinations, errors
):
    response = client.post(API, json=body(destinations=destinations), headers=headers)
    assert response.status_code == 400
    assert response.get_json()["errors"] == errors
    assert db.session.scalar(select(ExportSchedule.id)) is None


def test_a_short_file_password_is_refused(client, headers):
    response = client.post(API, json=body(file_password="short"), headers=headers)
    assert response.status_code == 400
    assert "file_password" in response.get_json()["errors"]


def test_production_mode_refuses_a_private_address_when_saving(app_factory, client, headers):
    app = client.application
    app.config["DESTINATIONS_ALLOW_PRIVATE"] = False
    response = client.post(
        API,
        json=body(destinations=[{"kind": "teams", "url": "https://169.254.169.254/latest"}]),
        headers=headers,
    )
    assert response.status_code == 400
    assert "metadata" in response.get_json()["errors"]["destinations.0.url"][0]


def test_send_a_test_to_a_saved_destination(client, headers, receiver):
    created = client.post(
        API,
        json=body(destinations=[{"kind": "webhook", "url": receiver.url, "secret": SECRET}]),
        headers=headers,
    ).get_json()
    destination_id = created["destinations"][0]["id"]
    answer = client.post(f"{API}{created['id']}/destinations/{destination_id}/test/", headers=headers)
    assert answer.status_code == 200
    assert answer.get_json() == {"delivered": True, "message": f"Test delivered to {receiver.url}."}
    (got,) = receiver.received

    assert receiver_verifies(got, SECRET, int(time.time()))
    assert json.loads(got.body)["files"][0]["file_name"] == "export-automation-test.txt"
    missing = client.post(f"{API}{created['id']}/destinations/nope/test/", headers=headers)
    assert missing.status_code == 404
