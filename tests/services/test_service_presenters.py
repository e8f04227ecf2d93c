"""Every display field: the words the API and the pages share."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from dashboard.core.display import datetime_display as local_display
from dashboard.core.display import duration_display
from dashboard.core.display import size_display as file_size_display
from dashboard.models import ExportHistory, ExportSchedule
from dashboard.services.presenters import history_to_dict, iso_utc, schedule_to_dict
from tests.services.service_helpers import utc, valid_schedule

NOW = utc(2024, 3, 15, 6, 0)


def schedule(**fields) -> ExportSchedule:
    """A schedule that is not saved (display fields need no database, except the creator's name)."""
    values = {
        "id": uuid.uuid4(),
        "name": "Daily Sales",
        "export_type": "SALES",
        "format": "excel",
        "frequency": "DAILY",
        "hour": 8,
        "minute": 0,
        "timezone": "UTC",
        "recipients": ["a@example.com"],
        "include_creator_email": False,
        "email_subject": "",
        "email_message": "",
        "filters": {"date_range": "yesterday"},
        "skip_if_empty": False,
        "is_active": True,
        "next_run_at": utc(2024, 3, 15, 8, 0),
        "created_at": utc(2024, 3, 1, 9, 30, 15),
        "updated_at": utc(2024, 3, 2, 9, 30, 15),
    }
    values.update(fields)
    return ExportSchedule(**values)


def run(**fields) -> ExportHistory:
    values = {
        "id": uuid.uuid4(),
        "export_type": "SALES",
        "format": "csv",
        "trigger": "SCHEDULED",
        "status": "COMPLETED",
        "file_name": "sales_export_2024-03-15.csv",
        "file_path": "exports/x/2024/03/y_sales_export_2024-03-15.csv",
        "file_size": 1024 * 1536,
        "record_count": 1200,
        "started_at": utc(2024, 3, 15, 8, 0, 0),
        "completed_at": utc(2024, 3, 15, 8, 0, 45),
        "created_at": utc(2024, 3, 15, 8, 0, 0),
        "error_traceback": "Traceback ...",
    }
    values.update(fields)
    return ExportHistory(**values)


pytestmark = pytest.mark.nodb


# --------------------------------------------------------------------------------------------
# Schedules


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "In 2 hours"),
        ({"next_run_at": NOW + timedelta(days=3)}, "In 3 days"),
        ({"next_run_at": NOW + timedelta(seconds=30)}, "In 30 seconds"),
        ({"next_run_at": NOW - timedelta(minutes=5)}, "Due 5 minutes ago"),
        ({"is_active": False, "next_run_at": None}, "Not scheduled"),
        ({"is_active": True, "next_run_at": None}, "Not scheduled"),
    ],
)
def test_next_run_display(fields, expected):
    assert schedule_to_dict(schedule(**fields), NOW)["next_run_display"] == expected


@pytest.mark.parametrize(
    ("last_run_at", "expected"),
    [
        (None, "Never run"),
        (NOW - timedelta(days=2), "2 days ago"),
        (NOW - timedelta(hours=1), "An hour ago"),
        (NOW - timedelta(seconds=1), "A second ago"),
        (NOW + timedelta(seconds=3), "Now"),  # a clock slightly behind the database's
    ],
)
def test_last_run_display(last_run_at, expected):
    assert schedule_to_dict(schedule(last_run_at=last_run_at), NOW)["last_run_display"] == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "Active"),
        ({"next_run_at": NOW - timedelta(seconds=1)}, "Overdue"),
        ({"is_active": False, "next_run_at": None}, "Inactive"),
    ],
)
def test_status_display(fields, expected):
    assert schedule_to_dict(schedule(**fields), NOW)["status_display"] == expected


def test_schedule_dict_has_every_field():
    data = schedule_to_dict(schedule(), NOW)
    seed_fields = set(valid_schedule()) | {
        "id",
        "hour",
        "minute",
        "day_of_week",
        "day_of_month",
        "week_of_month",
        "timezone",
        "skip_if_empty",
        "last_run_at",
        "next_run_at",
        "created_at",
        "updated_at",
        "created_by",
        "created_by_name",
        "next_run_display",
        "last_run_display",
        "status_display",
        "next_runs",
        "schedule_description",
    }
    assert seed_fields <= set(data)
    assert data["next_run_at"] == "2024-03-15T08:00:00Z"
    assert data["created_at"] == "2024-03-01T09:30:15Z"
    assert data["last_run_at"] is None and data["created_by"] is None and data["created_by_name"] is None
    assert data["schedule_description"] == "Every day at 08:00 (UTC)"
    assert data["export_type_display"] == "Sales" and data["format_display"] == "Excel"
    assert data["filters_display"] == "Yesterday"


def test_next_runs_in_preview_shape_across_dst():
    data = schedule_to_dict(
        schedule(hour=2, minute=30, timezone="America/New_York", next_run_at=utc(2027, 3, 14, 7, 30)),
        utc(2027, 3, 13, 12),
    )
    assert data["next_runs"][:2] == [
        {"utc": "2027-03-14T07:30:00Z", "local": "2027-03-14T03:30:00-04:00", "dst_shifted": True},
        {"utc": "2027-03-15T06:30:00Z", "local": "2027-03-15T02:30:00-04:00", "dst_shifted": False},
    ]
    assert len(data["next_runs"]) == 5
    assert data["next_runs"][0]["utc"] == data["next_run_at"]


def test_inactive_schedule_has_no_next_runs():
    assert schedule_to_dict(schedule(is_active=False, next_run_at=None), NOW)["next_runs"] == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"frequency": "WEEKLY", "day_of_week": 0, "hour": 9}, "Every Monday at 09:00 (UTC)"),
        ({"frequency": "MONTHLY", "day_of_month": -1}, "Monthly on the last day at 08:00 (UTC)"),
        (
            {"frequency": "MONTHLY", "week_of_month": 2, "day_of_week": 1, "timezone": "Europe/London"},
            "Monthly on the 2nd Tuesday at 08:00 (Europe/London)",
        ),
    ],
)
def test_schedule_description(fields, expected):
    assert schedule_to_dict(schedule(**fields), NOW)["schedule_description"] == expected


def test_a_timezone_gone_from_the_database_does_not_break_the_page():
    data = schedule_to_dict(schedule(timezone="Mars/Olympus"), NOW)
    assert data["schedule_description"] == "Unknown timing" and data["next_runs"] == []


# --------------------------------------------------------------------------------------------
# History


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (45, "45s"),
        (135, "2m 15s"),
        (3780, "1h 3m"),
        (60, "1m 0s"),
        (0.2, "<1s"),
        (59.6, "1m 0s"),
        (None, None),
    ],
)
def test_duration_display(seconds, expected):
    assert duration_display(seconds) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1024 * 1536, "1.5 MB"),
        (512_000, "500 KB"),
        (1024, "1 KB"),
        (900, "900 bytes"),
        (1, "1 byte"),
        (0, "0 bytes"),
        (3 * 1024**3, "3 GB"),
    ],
)
def test_file_size_display(size, expected):
    assert file_size_display(size) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("PENDING", "Waiting"),
        ("PROCESSING", "Running"),
        ("COMPLETED", "Completed"),
        ("EMAILED", "Emailed"),
        ("FAILED", "Failed"),
    ],
)
def test_history_status_display(status, expected):
    assert history_to_dict(run(status=status))["status_display"] == expected


@pytest.mark.parametrize(
    ("fields", "downloadable"),
    [
        ({}, True),
        ({"status": "EMAILED"}, True),
        ({"status": "FAILED"}, False),
        ({"status": "PROCESSING"}, False),
        ({"file_path": ""}, False),  # cleaned up
    ],
)
def test_download_url(fields, downloadable):
    record = run(**fields)
    expected = f"/api/reports/automation/history/{record.id}/download/" if downloadable else None
    assert history_to_dict(record)["download_url"] == expected


def test_history_dict_fields():
    retry_of = uuid.uuid4()
    record = run(
        attempt=2,
        retry_of_id=retry_of,
        progress=600,
        total_records=1500,
        truncated=True,
        schedule_name="Daily Sales",
        filters_applied={"date_range": "yesterday", "start_date": "2024-03-14", "end_date": "2024-03-14"},
        email_delivery=[{"email": "a@example.com", "accepted": True, "error": ""}],
    )
    data = history_to_dict(record)
    assert "error_traceback" not in data
    assert history_to_dict(record, detail=True)["error_traceback"] == "Traceback ..."
    assert data["duration_display"] == "45s" and data["duration_seconds"] == 45.0
    assert data["file_size_display"] == "1.5 MB" and data["file_size_mb"] == 1.5
    assert (data["attempt"], data["retry_of"], data["progress"]) == (2, str(retry_of), 600)
    assert (data["total_records"], data["truncated"]) == (1500, True)
    assert data["schedule_name"] == "Daily Sales" and data["schedule"] is None
    assert data["user"] is None and data["user_name"] is None
    assert data["email_delivery"] == [{"email": "a@example.com", "accepted": True, "error": ""}]
    assert data["filters_display"] == "14 Mar 2024 (Yesterday)"
    assert data["trigger_display"] == "Scheduled"
    assert data["created_at"] == "2024-03-15T08:00:00Z"
    seed_fields = {
        "id", "user", "schedule", "export_type", "format", "trigger", "status", "started_at",
        "completed_at", "file_name", "file_size", "file_path", "record_count", "filters_applied",
        "email_sent", "email_recipients", "email_sent_at", "error_message", "created_at",
        "user_name", "schedule_name", "duration_display", "file_size_display", "status_display",
        "download_url", "attempt", "retry_of", "progress", "email_delivery", "total_records", "truncated",
    }  # fmt: skip
    assert seed_fields <= set(data)


def test_unfinished_run_has_no_duration_or_size():
    data = history_to_dict(
        run(status="PROCESSING", completed_at=None, file_name="", file_path="", file_size=0)
    )
    assert data["duration_display"] is None and data["file_size_display"] is None


# --------------------------------------------------------------------------------------------
# Times


def test_iso_utc():
    assert iso_utc(utc(2024, 3, 15, 8, 0, 0)) == "2024-03-15T08:00:00Z"
    assert iso_utc(utc(2024, 3, 15, 8, 0, 0).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))) == (
        "2024-03-15T08:00:00Z"
    )
    assert iso_utc(utc(2024, 3, 15, 8, 0, 0, 999999)) == "2024-03-15T08:00:00Z"
    assert iso_utc(None) is None


def test_local_display():
    assert local_display(utc(2024, 3, 15, 8, 0), "Europe/London") == "15 Mar 2024, 08:00 GMT"
    assert local_display(utc(2024, 7, 1, 8, 0), "Europe/London") == "1 Jul 2024, 09:00 BST"
    assert local_display(None, "UTC") == ""
