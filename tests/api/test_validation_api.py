"""Every validation rule of the API's inputs gives a 400 with a message under its field, and nothing
is saved or run. One app serves the whole module (`shared`): these requests change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule
from tests.api.conftest import BASE

SCHEDULES = f"{BASE}/schedules/"


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


def _nothing_changed(shared) -> None:
    assert db.session.scalar(select(func.count()).select_from(ExportSchedule)) == 1
    assert db.session.scalar(select(func.count()).select_from(ExportHistory)) == 0


# --------------------------------------------------------------------------------------------
# Schedules: one failing case per rule

LONG = "x" * 256


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": ""}, "name"),
        ({"name": LONG}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": 7}, "name"),
        ({"export_type": "PAYROLL"}, "export_type"),
        ({"format": "docx"}, "format"),
        ({"frequency": "HOURLY"}, "frequency"),
        ({"hour": 24}, "hour"),
        ({"hour": -1}, "hour"),
        ({"hour": "8"}, "hour"),
        ({"hour": True}, "hour"),
        ({"hour": 8.5}, "hour"),
        ({"minute": 60}, "minute"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"recipients": "a@example.com"}, "recipients"),
        ({"recipients": ["not-an-address"]}, "recipients"),
        ({"recipients": [f"r{i}@example.com" for i in range(51)]}, "recipients"),
        ({"include_creator_email": "yes"}, "include_creator_email"),
        ({"skip_if_empty": 0}, "skip_if_empty"),
        ({"is_active": "true"}, "is_active"),
        ({"email_subject": LONG}, "email_subject"),
        ({"email_subject": "Hi\r\nBcc: x@example.com"}, "email_subject"),
        ({"email_message": "x" * 5001}, "email_message"),
        # day rules per frequency (the contract's, replacing the seed's 1-28)
        ({"day_of_week": 1}, "day_of_week"),  # DAILY takes no day field
        ({"day_of_month": 5}, "day_of_month"),
        ({"frequency": "WEEKLY"}, "day_of_week"),
        ({"frequency": "WEEKLY", "day_of_week": 7}, "day_of_week"),
        ({"frequency": "WEEKLY", "day_of_week": 1, "day_of_month": 3}, "day_of_month"),
        ({"frequency": "MONTHLY"}, "non_field_errors"),
        ({"frequency": "MONTHLY", "day_of_month": 0}, "day_of_month"),
        ({"frequency": "MONTHLY", "day_of_month": 32}, "day_of_month"),
        ({"frequency": "MONTHLY", "day_of_month": -2}, "day_of_month"),
        (
            {"frequency": "MONTHLY", "day_of_month": 1, "week_of_month": 2, "day_of_week": 1},
            "non_field_errors",
        ),
        ({"frequency": "MONTHLY", "week_of_month": 2}, "day_of_week"),
        ({"frequency": "MONTHLY", "day_of_week": 1}, "week_of_month"),
        ({"frequency": "MONTHLY", "week_of_month": 5, "day_of_week": 1}, "week_of_month"),
        # filters by export type
        ({"filters": []}, "filters"),
        ({"filters": {"date_range": "yesterday", "colour": "red"}}, "filters"),
        ({"filters": {}}, "filters.date_range"),
        ({"filters": {"date_range": "fortnight"}}, "filters.date_range"),
        ({"filters": {"date_range": "yesterday", "start_date": "2024-01-01"}}, "filters.date_range"),
        ({"filters": {"start_date": "2024-01-01"}}, "filters.end_date"),
        ({"filters": {"start_date": "2024-02-30", "end_date": "2024-03-01"}}, "filters.start_date"),
        ({"filters": {"start_date": "2024-03-02", "end_date": "2024-03-01"}}, "filters.end_date"),
        (
            {"export_type": "CUSTOMERS", "filters": {"include_credit_history": "yes"}},
            "filters.include_credit_history",
        ),
        ({"export_type": "INVENTORY", "filters": {"exclude_zero_value": 1}}, "filters.exclude_zero_value"),
        ({"export_type": "INVENTORY", "filters": {"date_range": "today"}}, "filters"),
    ],
)
def test_each_validation_rule_gives_a_field_error(shared, shared_api, overrides, field):
    response = shared_api.post(SCHEDULES, json=valid_body(**overrides))
    assert response.status_code == 400, response.get_json()
    errors = response.get_json()["errors"]
    assert field in errors, errors
    assert all(isinstance(m, str) and m for m in errors[field])
    _nothing_changed(shared)


@pytest.mark.parametrize("missing", ["name", "export_type", "format", "frequency", "hour"])
def test_required_fields(shared, shared_api, missing):
    body = valid_body()
    body.pop(missing)
    response = shared_api.post(SCHEDULES, json=body)
    assert response.status_code == 400 and missing in response.get_json()["errors"]
    _nothing_changed(shared)


# Trigger


@pytest.mark.parametrize(
    "body, field",
    [
        ({"send_email": "yes"}, "send_email"),
        ({"send_email": 1}, "send_email"),
        ({"override_recipients": "a@example.com"}, "override_recipients"),
        ({"override_recipients": ["not an address"]}, "override_recipients"),
        ({"override_recipients": [f"r{i}@example.com" for i in range(51)]}, "override_recipients"),
    ],
)
def test_trigger_body_is_validated(shared, shared_api, body, field):
    response = shared_api.post(f"{SCHEDULES}{shared.schedule_id}/trigger/", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    _nothing_changed(shared)


# Preview


@pytest.mark.parametrize(
    "body, field",
    [
        ({"hour": 9}, "frequency"),
        ({"frequency": "DAILY"}, "hour"),
        ({"frequency": "DAILY", "hour": 9, "count": 0}, "count"),
        ({"frequency": "DAILY", "hour": 9, "count": 51}, "count"),
        ({"frequency": "DAILY", "hour": 9, "after": "next tuesday"}, "after"),
        ({"frequency": "DAILY", "hour": 9, "timezone": "Mars/Olympus"}, "timezone"),
        ({"frequency": "WEEKLY", "hour": 9}, "day_of_week"),
    ],
)
def test_preview_is_validated(shared_api, body, field):
    response = shared_api.post(f"{SCHEDULES}preview/", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


# List parameters


@pytest.mark.parametrize(
    "query, field",
    [
        ("is_active=maybe", "is_active"),
        ("export_type=PAYROLL", "export_type"),
        ("frequency=HOURLY", "frequency"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=two", "page"),
        ("page=1.5", "page"),
        ("page_size=0", "page_size"),
        ("page_size=-5", "page_size"),
        ("page_size=lots", "page_size"),
    ],
)
def test_bad_list_parameters_are_400(shared_api, query, field):
    response = shared_api.get(f"{SCHEDULES}?{query}")
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("export_type=PAYROLL", "export_type"),
        ("format=docx", "format"),
        ("status=DONE", "status"),
        ("trigger=CRON", "trigger"),
        ("schedule_id=42", "schedule_id"),
        ("start_date=yesterday", "start_date"),
        ("end_date=2024-13-01", "end_date"),
        ("start_date=2024-03-02&end_date=2024-03-01", "end_date"),
        ("page=0", "page"),
        ("page_size=x", "page_size"),
    ],
)
def test_bad_history_parameters_are_400(shared_api, query, field):
    response = shared_api.get(f"{BASE}/history/?{query}")
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


# One-off exports

EXPORTS = "/api/reports/exports/"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"format": "csv", "filters": {"date_range": "today"}}, "export_type"),
        ({"export_type": "SALES", "filters": {"date_range": "today"}}, "format"),
        ({"export_type": "PAYROLL", "format": "csv"}, "export_type"),
        ({"export_type": "SALES", "format": "docx", "filters": {"date_range": "today"}}, "format"),
        ({"export_type": "SALES", "format": "csv"}, "filters.date_range"),
        ({"export_type": "SALES", "format": "csv", "filters": "today"}, "filters"),
        ({"export_type": "INVENTORY", "format": "csv", "filters": {"colour": "red"}}, "filters"),
        (
            {
                "export_type": "AUDIT_LOGS",
                "format": "csv",
                "filters": {"start_date": "2024-03-02", "end_date": "2024-03-01"},
            },
            "filters.end_date",
        ),
        ({"export_type": "INVENTORY", "format": "csv", "recipients": ["nobody"]}, "recipients"),
        ({"export_type": "INVENTORY", "format": "csv", "recipients": "a@example.com"}, "recipients"),
        (
            {
                "export_type": "INVENTORY",
                "format": "csv",
                "recipients": [f"r{i}@example.com" for i in range(51)],
            },
            "recipients",
        ),
    ],
)
def test_one_off_export_is_validated(shared, shared_api, body, field):
    response = shared_api.post(EXPORTS, json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    _nothing_changed(shared)


# Notification settings (owners)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"notify_on_success": "yes"}, "notify_on_success"),
        ({"notify_on_failure": None}, "notify_on_failure"),
        ({"default_recipients": "admin@example.com"}, "default_recipients"),
        ({"default_recipients": ["admin@"]}, "default_recipients"),
        ({"default_recipients": [f"r{i}@example.com" for i in range(51)]}, "default_recipients"),
        ({"from_name": "x" * 256}, "from_name"),
        ({"from_name": "Shop\r\nBcc: x@example.com"}, "from_name"),
        ({"reply_to_email": "not an address"}, "reply_to_email"),
        ({"reply_to_email": 5}, "reply_to_email"),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_notification_settings_are_validated(shared_api, body, field, method):
    before = shared_api.get(f"{BASE}/notifications/").get_json()
    response = shared_api._call(method, f"{BASE}/notifications/", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert shared_api.get(f"{BASE}/notifications/").get_json() == before


# Bodies that are not a JSON object


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", SCHEDULES),
        ("POST", f"{SCHEDULES}preview/"),
        ("PUT", f"{BASE}/notifications/"),
        ("POST", EXPORTS),
    ],
)
@pytest.mark.parametrize(
    "data, status",
    [
        (b"{not json", 400),
        (b'{"name": "x",}', 400),
        (b"[1, 2, 3]", 400),
        (b'"a string"', 400),
        (b"null", 400),
        (b'{"hour": NaN}', 400),
        (b"\xff\xfe{}", 400),
        (b"", 400),
    ],
)
def test_malformed_json_is_400_send_a_json_object(shared, shared_api, method, path, data, status):
    response = shared_api._call(method, path, data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.get_json() == {"errors": {"non_field_errors": ["Send a JSON object."]}}
    _nothing_changed(shared)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(shared, shared_api, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = shared_api.post(SCHEDULES, data=b'{"name": "x"}', headers=headers)
    assert response.status_code == 415
    assert response.get_json() == {
        "errors": {
            "non_field_errors": ["Send a JSON object.", "Set the header Content-Type: application/json."]
        }
    }
    _nothing_changed(shared)


def test_a_json_body_with_a_charset_is_fine(shared, shared_api):
    response = shared_api.post(
        f"{SCHEDULES}preview/",
        data=b'{"frequency": "DAILY", "hour": 7}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
