"""Screenshots of a busy dashboard at 1280 px and 375 px wide, for people to look at.

Runs last (after the journeys) on the same live server, after adding schedules and a month of
runs of every outcome, so that every page shows what it looks like in use. The files go to
tests/artifacts/screenshots/ (kept out of git). Each page is also checked for what it must show.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import assert_fits, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRACEBACK = """Traceback (most recent call last):
  File "dashboard/automation/runner.py", line 266, in execute
    result = generate_export(...)
  File "dashboard/exports/service.py", line 131, in generate_export
    raise ExportError("The database did not answer in time")
ExportError: The database did not answer in time"""


def _busy_business(live_server) -> None:
    from dashboard.extensions import db
    from dashboard.models import Business, ExportHistory, ExportSchedule, User
    from dashboard.services import schedules

    with live_server.app_context():
        business = db.session.query(Business).filter_by(name=live_server.people.business_name).one()
        owner = db.session.query(User).filter_by(email=live_server.people.owner_email).one()
        # The server lives for the whole session: schedules other browser tests left behind would
        # make this a different dashboard from the one these screenshots show.
        for leftover in db.session.query(ExportSchedule).filter_by(business_id=business.id).all():
            schedules.delete_schedule(leftover, owner)
        weekly = schedules.create_schedule(
            business,
            owner,
            {
                "name": "Monday sales for the accountant",
                "export_type": "SALES",
                "format": "excel",
                "frequency": "WEEKLY",
                "day_of_week": 0,
                "hour": 7,
                "minute": 30,
                "recipients": ["accounts@example.com", "sam@example.com"],
                "filters": {"date_range": "previous_week"},
            },
        )
        schedules.create_schedule(
            business,
            owner,
            {
                "name": "Stock check, 2nd Tuesday",
                "export_type": "INVENTORY",
                "format": "pdf",
                "frequency": "MONTHLY",
                "week_of_month": 2,
                "day_of_week": 1,
                "hour": 6,
                "filters": {"exclude_zero_value": True},
                "recipients": ["stock@example.com"],
            },
        )
        audit = schedules.create_schedule(
            business,
            owner,
            {
                "name": "Daily audit log",
                "export_type": "AUDIT_LOGS",
                "format": "csv",
                "frequency": "DAILY",
                "hour": 23,
                "filters": {"date_range": "today"},
            },
        )
        schedules.create_schedule(
            business,
            owner,
            {
                "name": "Customer list (paused)",
                "export_type": "CUSTOMERS",
                "format": "csv",
                "frequency": "MONTHLY",
                "day_of_month": -1,
                "hour": 18,
                "filters": {"include_credit_history": True},
                "is_active": False,
            },
        )
        now = datetime.now(UTC)
        audit.next_run_at = now - timedelta(hours=3)  # missed while the server was down
        rng = random.Random(5)
        kinds = [
            ("SALES", "excel"),
            ("SALES", "pdf"),
            ("CUSTOMERS", "csv"),
            ("INVENTORY", "pdf"),
            ("AUDIT_LOGS", "csv"),
        ]
        for day in range(29, -1, -1):
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                export_type, fmt = rng.choice(kinds)
                created = now - timedelta(days=day, hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
                failed = rng.random() < (0.35 if fmt == "pdf" else 0.08)
                seconds = rng.randint(2, 140)
                db.session.add(
                    ExportHistory(
                        business_id=business.id,
                        user_id=owner.id,
                        schedule_id=weekly.id if export_type == "SALES" else None,
                        schedule_name=weekly.name if export_type == "SALES" else "",
                        export_type=export_type,
                        format=fmt,
                        trigger=rng.choice(["SCHEDULED", "SCHEDULED", "MANUAL", "API"]),
                        status="FAILED" if failed else rng.choice(["COMPLETED", "EMAILED"]),
                        created_at=created,
                        started_at=created + timedelta(seconds=1),
                        completed_at=created + timedelta(seconds=1 + seconds),
                        record_count=0 if failed else rng.randint(40, 5000),
                        file_name=""
                        if failed
                        else f"{export_type.lower()}_export.{ {'excel': 'xlsx'}.get(fmt, fmt) }",
                        file_size=0 if failed else rng.randint(8_000, 3_500_000),
                        error_message="The database did not answer in time." if failed else "",
                        error_traceback=TRACEBACK if failed else "",
                        email_delivery=[]
                        if failed
                        else [{"email": "accounts@example.com", "accepted": True, "error": None}],
                    )
                )
        db.session.add(
            ExportHistory(
                business_id=business.id,
                user_id=owner.id,
                export_type="SALES",
                format="csv",
                trigger="MANUAL",
                status="PROCESSING",
                created_at=now - timedelta(seconds=20),
                started_at=now - timedelta(seconds=19),
                heartbeat_at=now,
                claim_token="screenshot-run",
                progress=1250,
            )
        )
        db.session.commit()


def test_screenshots_of_a_busy_dashboard(page, live_server):
    _busy_business(live_server)
    sign_in(page, live_server.people.owner_email)

    expect(page.get_by_role("heading", name="Needs your attention")).to_be_visible()
    expect(page.get_by_text("Daily audit log")).to_be_visible()
    screenshot(page, "home")
    assert_fits(page)

    page.goto("/schedules/")
    expect(page.locator("tr[data-schedule-name]")).to_have_count(4)
    expect(page.locator("tr[data-schedule-name='Daily audit log'] [data-status='Overdue']")).to_be_visible()
    screenshot(page, "schedules")
    assert_fits(page)

    stock_check = page.locator("tr[data-schedule-name='Stock check, 2nd Tuesday']")
    stock_check.get_by_text("More").click()
    screenshot(page, "schedules-row-menu")
    stock_check.get_by_role("link", name=re.compile("^Edit")).click()
    expect(page.get_by_label("Which")).to_have_value("2")
    expect(page.locator("[data-sentence]")).to_contain_text(
        "On the 2nd Tuesday of each month at 06:00 Europe/London"
    )
    screenshot(page, "schedule-form")
    assert_fits(page)

    page.goto("/history/")
    expect(page.locator("#history-rows > tr[data-status='PROCESSING']")).to_contain_text(
        "1,250 records so far"
    )
    screenshot(page, "history")
    assert_fits(page)

    page.goto("/history/?status=FAILED")
    page.locator("#history-rows > tr").first.get_by_role("link", name="Details").click()
    expect(page.get_by_text("The database did not answer in time.")).to_be_visible()
    page.get_by_text("Technical details (for support)").click()
    expect(page.locator("pre.traceback")).to_contain_text("ExportError")
    screenshot(page, "history-detail")
    assert_fits(page)

    page.goto("/statistics/")
    expect(page.locator("svg.chart-svg").first).to_be_visible()
    screenshot(page, "statistics")
    assert_fits(page)

    page.goto("/exports/new")
    screenshot(page, "export-now")
    assert_fits(page)
    page.goto("/settings/notifications")
    screenshot(page, "settings")
    assert_fits(page)
