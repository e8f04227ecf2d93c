"""Recipients through the API (issue 15, item 3): MAX_RECIPIENTS before any validation with a short
answer, and `allowed_recipient_domains` in the notification settings, checked when saving a
schedule, a one-off export or a trigger override, and again when sending."""

from __future__ import annotations

import email_validator
import pytest
from sqlalchemy import select

from dashboard.delivery import deliver_run_result
from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule, MailMessage
from tests.api.conftest import BASE

NOTIFICATIONS = f"{BASE}/notifications/"


def schedule_body(**overrides) -> dict:
    body = {
        "name": "Daily sales",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 8,
        "recipients": ["accounts@example.com"],
        "filters": {"date_range": "yesterday"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def validations(monkeypatch):
    calls = {"n": 0}
    # email_validator is imported where an address is checked (start-up): count its calls there.
    real = email_validator.validate_email

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(email_validator, "validate_email", counting)
    return calls


# --- MAX_RECIPIENTS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,body",
    [
        (f"{BASE}/schedules/", lambda r: schedule_body(recipients=r)),
        (
            "/api/reports/exports/",
            lambda r: {
                "export_type": "SALES",
                "format": "csv",
                "recipients": r,
                "filters": {"date_range": "yesterday"},
            },
        ),
    ],
    ids=["schedule", "one-off"],
)
def test_too_many_recipients_is_refused_before_any_validation(owner_api, validations, path, body):
    addresses = [f"p{i:05d}@example.com" for i in range(9_000)]
    response = owner_api.post(path, json=body(addresses))
    assert response.status_code == 400
    assert validations["n"] == 0
    assert len(response.data) < 500
    assert response.get_json()["errors"]["recipients"] == ["At most 50 recipients."]


def test_trigger_override_and_settings_lists_too(owner_api, validations, tenant):
    schedule = owner_api.post(f"{BASE}/schedules/", json=schedule_body()).get_json()
    validations["n"] = 0
    addresses = [f"p{i}@example.com" for i in range(51)]
    response = owner_api.post(
        f"{BASE}/schedules/{schedule['id']}/trigger/", json={"override_recipients": addresses}
    )
    assert response.status_code == 400 and "override_recipients" in response.get_json()["errors"]
    response = owner_api.put(NOTIFICATIONS, json={"default_recipients": addresses})
    assert response.status_code == 400 and "default_recipients" in response.get_json()["errors"]
    assert validations["n"] == 0


def test_a_huge_bad_address_is_echoed_shortened(owner_api):
    response = owner_api.post(f"{BASE}/schedules/", json=schedule_body(recipients=["y" * 100_000]))
    assert response.status_code == 400
    assert len(response.data) < 500
    (message,) = response.get_json()["errors"]["recipients"]
    assert (
        message.startswith("'yyyy") and "…" in message and message.endswith("is not a valid e-mail address.")
    )


# --- allowed_recipient_domains -------------------------------------------------------------------


def test_settings_read_and_write_allowed_domains(owner_api):
    assert owner_api.get(NOTIFICATIONS).get_json()["allowed_recipient_domains"] == []
    response = owner_api.put(
        NOTIFICATIONS, json={"allowed_recipient_domains": ["Example.com", "@shop.example.org", "example.com"]}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["allowed_recipient_domains"] == ["example.com", "shop.example.org"]
    assert owner_api.get(NOTIFICATIONS).get_json()["allowed_recipient_domains"] == [
        "example.com",
        "shop.example.org",
    ]


@pytest.mark.parametrize(
    "value",
    ["not a domain", ["not a domain"], ["exa mple.com"], [""], [42], ["a@b.example.com"], ["localhost"]],
)
def test_bad_allowed_domains_are_a_400(owner_api, value):
    response = owner_api.put(NOTIFICATIONS, json={"allowed_recipient_domains": value})
    assert response.status_code == 400
    assert "allowed_recipient_domains" in response.get_json()["errors"]


def test_saving_recipients_outside_the_allowed_domains_is_refused(owner_api, tenant):
    # 409, not 400: the addresses are well formed; they conflict with the business's stored
    # allowed_recipient_domains (issue 16 item 5: the document and the answers agree).
    assert (
        owner_api.put(NOTIFICATIONS, json={"allowed_recipient_domains": ["example.com"]}).status_code == 200
    )
    ok = owner_api.post(
        f"{BASE}/schedules/", json=schedule_body(recipients=["a@example.com", "b@sub.example.com"])
    )
    assert ok.status_code == 201, ok.get_json()
    bad = owner_api.post(
        f"{BASE}/schedules/", json=schedule_body(recipients=["a@example.com", "x@evil.example.net"])
    )
    assert bad.status_code == 409
    assert bad.get_json()["errors"]["recipients"] == [
        "x@evil.example.net is outside the domains this business allows (example.com)."
    ]
    schedule_id = ok.get_json()["id"]
    patch = owner_api.patch(f"{BASE}/schedules/{schedule_id}/", json={"recipients": ["x@evil.example.net"]})
    assert patch.status_code == 409
    one_off = owner_api.post(
        "/api/reports/exports/",
        json={
            "export_type": "SALES",
            "format": "csv",
            "recipients": ["x@evil.example.net"],
            "filters": {"date_range": "yesterday"},
        },
    )
    assert one_off.status_code == 409 and "recipients" in one_off.get_json()["errors"]
    runs_before = db.session.scalar(select(db.func.count(ExportHistory.id)))
    trigger = owner_api.post(
        f"{BASE}/schedules/{schedule_id}/trigger/", json={"override_recipients": ["x@evil.example.net"]}
    )
    assert trigger.status_code == 409 and "override_recipients" in trigger.get_json()["errors"]
    assert db.session.scalar(select(db.func.count(ExportHistory.id))) == runs_before  # nothing created
    # A default recipient (failure alerts, notices) is held to the same rule.
    bad_default = owner_api.put(NOTIFICATIONS, json={"default_recipients": ["x@evil.example.net"]})
    assert bad_default.status_code == 409


def test_recipients_outside_the_allowed_domains_at_send_time_are_not_sent(owner_api, tenant):
    created = owner_api.post(
        f"{BASE}/schedules/", json=schedule_body(recipients=["in@example.com", "out@elsewhere.example.net"])
    )
    assert created.status_code == 201
    # The owner restricts the domains after the schedule was saved.
    assert (
        owner_api.put(NOTIFICATIONS, json={"allowed_recipient_domains": ["example.com"]}).status_code == 200
    )
    response = owner_api.post(f"{BASE}/schedules/{created.get_json()['id']}/trigger/", json={})
    assert response.status_code == 202
    history = db.session.get(ExportHistory, response.get_json()["id"])
    db.session.refresh(history)
    deliver_run_result(history.id)  # again: idempotent
    db.session.refresh(history)
    by_address = {d["email"]: d for d in history.email_delivery}
    assert by_address["in@example.com"]["accepted"] is True
    refused = by_address["out@elsewhere.example.net"]
    assert refused["accepted"] is False
    assert "outside the domains this business allows" in refused["error"]
    row = db.session.scalar(select(MailMessage).where(MailMessage.recipient == "out@elsewhere.example.net"))
    assert row.status == "failed" and row.attempts == 0  # never handed to the mail server
    assert db.session.get(ExportSchedule, created.get_json()["id"]).recipients == [
        "in@example.com",
        "out@elsewhere.example.net",
    ]
