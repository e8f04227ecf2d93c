"""The audit trail tells no more than the reader may see, and records only what happened
(issue 15, item 6).

- A manager gets 403 on notification settings: their Audit Logs export must not carry those
  settings (private reply-to, recipients) in the details of owner-only entries.
- An e-mail link download names a signed-in user only when that user belongs to the run's business.
- A HEAD request downloads nothing, so it records nothing.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog
from dashboard.storage.links import make_download_url
from tests.security.security_helpers import bearer, login

PRIVATE = ("private-reply@target.example.com", "secret-list@target.example.com")
REDACTED = "(details visible to owners only)"


def _download_rows(client, headers, history_id: str) -> list[list[str]]:
    response = client.get(f"/api/reports/automation/history/{history_id}/download/", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = response.get_data(as_text=True)
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _audit_export(client, token: str) -> list[list[str]]:
    response = client.post(
        "/api/reports/exports/",
        json={"export_type": "AUDIT_LOGS", "format": "csv", "filters": {"date_range": "today"}},
        headers=bearer(token),
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    run = response.get_json()
    return _download_rows(client, bearer(token), run["id"])


@pytest.fixture
def private_settings(app, world):
    client = app.test_client()
    response = client.put(
        "/api/reports/automation/notifications/",
        json={"reply_to_email": PRIVATE[0], "default_recipients": [PRIVATE[1]], "from_name": "Target"},
        headers=bearer(world.a.tokens["owner"]),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    # The manager may not read them directly.
    manager_view = client.get(
        "/api/reports/automation/notifications/", headers=bearer(world.a.tokens["manager"])
    )
    assert manager_view.status_code == 403
    return world


def _settings_rows(rows: list[list[str]]) -> list[list[str]]:
    return [row for row in rows if len(row) > 2 and row[2] == "notifications.update"]


def test_a_managers_audit_export_leaves_out_the_details_of_owner_only_entries(app, private_settings):
    world = private_settings
    rows = _audit_export(app.test_client(), world.a.tokens["manager"])
    text = "\n".join(",".join(row) for row in rows)
    for secret in PRIVATE:
        assert secret not in text, f"{secret} is in the manager's audit export"
    entries = _settings_rows(rows)
    assert entries, "the entry itself stays: who changed the settings, and when"
    assert entries[0][1] == world.a.owner.name and entries[0][5] == REDACTED
    # Other entries keep their details (the manager may see schedules).
    assert any("export.one_off" == row[2] and "AUDIT_LOGS" in row[5] for row in rows)


def test_an_owners_audit_export_keeps_every_detail(app, private_settings):
    rows = _audit_export(app.test_client(), private_settings.a.tokens["owner"])
    entries = _settings_rows(rows)
    assert entries and all(secret in entries[0][5] for secret in PRIVATE)


def test_a_scheduled_audit_export_made_by_a_manager_leaves_them_out_too(app, private_settings):
    world = private_settings
    client = app.test_client()
    headers = bearer(world.a.tokens["manager"])
    schedule = client.post(
        "/api/reports/automation/schedules/",
        json={
            "name": "Audit weekly",
            "export_type": "AUDIT_LOGS",
            "format": "csv",
            "frequency": "DAILY",
            "hour": 6,
            "filters": {"date_range": "today"},
        },
        headers=headers,
    )
    assert schedule.status_code == 201, schedule.get_data(as_text=True)
    run = client.post(
        f"/api/reports/automation/schedules/{schedule.get_json()['id']}/trigger/",
        json={"send_email": False},
        headers=headers,
    )
    assert run.status_code in (200, 202), run.get_data(as_text=True)
    # The owner downloads the file the manager's schedule made: it was made for the manager.
    rows = _download_rows(client, bearer(world.a.tokens["owner"]), run.get_json()["id"])
    assert _settings_rows(rows)[0][5] == REDACTED


def _download_entries(business_id) -> list[AuditLog]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditLog)
            .where(AuditLog.business_id == business_id, AuditLog.action == "export.download")
            .order_by(AuditLog.created_at)
        )
    )


def test_an_email_link_opened_by_a_user_of_another_business_records_no_user(app, world):
    link = make_download_url(world.a.run).removeprefix(app.config["BASE_URL"])
    stranger = login(app.test_client(), world.b.owner.email)
    assert stranger.get(link + "/file").status_code == 200
    entries = _download_entries(world.a.business.id)
    assert len(entries) == 1
    assert entries[0].user_id is None, "a user of another business was written into this audit log"
    assert entries[0].details == "via e-mail link"


def test_an_email_link_opened_by_a_member_records_that_member(app, world):
    link = make_download_url(world.a.run).removeprefix(app.config["BASE_URL"])
    member = login(app.test_client(), world.a.manager.email)
    assert member.get(link + "/file").status_code == 200
    assert [entry.user_id for entry in _download_entries(world.a.business.id)] == [world.a.manager.id]


def test_head_never_audits_a_download(app, world):
    link = make_download_url(world.a.run).removeprefix(app.config["BASE_URL"])
    owner = login(app.test_client(), world.a.owner.email)
    for path, headers in (
        (f"/history/{world.a.run.id}/download", {}),
        (f"/api/reports/automation/history/{world.a.run.id}/download/", bearer(world.a.tokens["owner"])),
        (link + "/file", {}),
    ):
        response = owner.head(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
        assert _download_entries(world.a.business.id) == [], f"HEAD {path} wrote an audit entry"
    # A GET still does.
    assert owner.get(f"/history/{world.a.run.id}/download").status_code == 200
    assert len(_download_entries(world.a.business.id)) == 1
