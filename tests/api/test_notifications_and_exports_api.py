"""Notification settings (owners only) and one-off exports."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory
from tests.api.conftest import BASE

NOTIFICATIONS = f"{BASE}/notifications/"
EXPORTS = "/api/reports/exports/"


def test_get_settings_has_defaults(owner_api, tenant):
    response = owner_api.get(NOTIFICATIONS)
    assert response.status_code == 200
    body = response.get_json()
    assert body["notify_on_failure"] is True and body["notify_on_success"] is False
    assert body["default_recipients"] == [] and body["from_name"] == "Test Shop"
    assert body["reply_to_email"] == ""


def test_put_the_seeds_body(owner_api):
    seed_body = {
        "notify_on_success": True,
        "notify_on_failure": True,
        "default_recipients": ["admin@company.com"],
        "from_name": "POS Export Service",
        "reply_to_email": "noreply@company.com",
    }
    response = owner_api.put(NOTIFICATIONS, json=seed_body)
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in seed_body} == seed_body
    assert owner_api.get(NOTIFICATIONS).get_json() == body
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "notifications.update"))
    assert audit is not None


def test_patch_changes_only_what_is_sent(owner_api):
    owner_api.put(NOTIFICATIONS, json={"default_recipients": ["a@example.com"]})
    body = owner_api.patch(NOTIFICATIONS, json={"notify_on_success": True}).get_json()
    assert body["notify_on_success"] is True and body["default_recipients"] == ["a@example.com"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_managers_get_403(manager_api, method):
    response = manager_api._call(method, NOTIFICATIONS, json={"notify_on_success": True})
    assert response.status_code == 403
    assert "owner" in response.get_json()["detail"]
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "notifications.update")) is None


def test_managers_get_403_on_statistics(manager_api):
    response = manager_api.get(f"{BASE}/history/statistics/")
    assert response.status_code == 403 and "detail" in response.get_json()


def test_settings_belong_to_each_business(owner_api, other_api):
    owner_api.put(NOTIFICATIONS, json={"from_name": "Mine"})
    assert other_api.get(NOTIFICATIONS).get_json()["from_name"] == "Other Shop"


# --------------------------------------------------------------------------------------------
# One-off exports


def test_one_off_export_answers_202_with_the_run(manager_api, tenant):
    response = manager_api.post(
        EXPORTS,
        json={
            "export_type": "SALES",
            "format": "csv",
            "filters": {"date_range": "previous_month"},
            "recipients": ["accounting@example.com"],
        },
    )
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert run["trigger"] == "API" and run["schedule"] is None
    assert run["export_type"] == "SALES" and run["format"] == "csv"
    # the period is resolved when the export runs, in the business's timezone
    applied = run["filters_applied"]
    assert applied["date_range"] == "previous_month"
    stored = db.session.get(ExportHistory, uuid.UUID(run["id"]))
    assert stored.business_id == tenant.business.id and stored.user_id == tenant.manager.id
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export.one_off")) is not None


def test_one_off_export_without_recipients_sends_no_mail(owner_api):
    response = owner_api.post(EXPORTS, json={"export_type": "INVENTORY", "format": "excel"})
    assert response.status_code == 202
    run = response.get_json()
    assert run["send_email"] is False and run["email_sent"] is False


def test_one_off_export_without_slash(owner_api):
    response = owner_api.post(EXPORTS.rstrip("/"), json={"export_type": "CUSTOMERS", "format": "csv"})
    assert response.status_code == 202
