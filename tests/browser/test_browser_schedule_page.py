"""A schedule's page in a real browser (issue 20 item 3): reached from the list by its name, its
sentence and next runs, and a failed run retried from the timeline in one click, the new run
watched in place until it has finished, its file downloadable from the timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import assert_fits, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def failed_schedule(live_server):
    """A daily schedule whose last run failed; removed afterwards with its runs (the server is shared)."""
    from sqlalchemy import delete

    from dashboard.extensions import db
    from dashboard.models import Business, ExportHistory, ExportSchedule, User
    from dashboard.services import schedules

    with live_server.app_context():
        business = db.session.query(Business).filter_by(name=live_server.people.business_name).one()
        owner = db.session.query(User).filter_by(email=live_server.people.owner_email).one()
        schedule = schedules.create_schedule(
            business,
            owner,
            {
                "name": "Morning takings",
                "export_type": "SALES",
                "format": "csv",
                "frequency": "DAILY",
                "hour": 7,
                "filters": {"date_range": "yesterday"},
                "recipients": ["books@example.com"],
            },
        )
        now = datetime.now(UTC)
        db.session.add(
            ExportHistory(
                business_id=business.id,
                schedule_id=schedule.id,
                schedule_name=schedule.name,
                export_type="SALES",
                format="csv",
                trigger="SCHEDULED",
                status="FAILED",
                created_at=now - timedelta(hours=2),
                started_at=now - timedelta(hours=2),
                completed_at=now - timedelta(hours=2) + timedelta(seconds=3),
                filters_applied={
                    "date_range": "yesterday",
                    "start_date": "2026-11-01",
                    "end_date": "2026-11-30",
                },
                error_message="The database did not answer in time.",
                failure_category="database",
            )
        )
        db.session.commit()
        schedule_id = schedule.id
    yield schedule_id
    with live_server.app_context():
        db.session.execute(delete(ExportHistory).where(ExportHistory.schedule_id == schedule_id))
        db.session.execute(delete(ExportSchedule).where(ExportSchedule.id == schedule_id))
        db.session.commit()


def test_a_failed_run_is_retried_from_the_schedule_page_timeline(page, live_server, failed_schedule):
    sign_in(page, live_server.people.owner_email)
    page.goto("/schedules/")
    page.get_by_role("link", name="Morning takings", exact=True).click()
    page.wait_for_url(re.compile(rf"/schedules/{failed_schedule}$"))
    expect(page.get_by_role("heading", name=re.compile("^Morning takings"))).to_be_visible()
    expect(page.locator("[data-sentence]")).to_have_text(
        re.compile(r"^Every day at 07:00 Europe/London you'll get yesterday's sales as CSV\. Next: ")
    )
    expect(page.locator("#next-title + ol li")).to_have_count(5)
    items = page.locator(".timeline-item")
    expect(items).to_have_count(1)
    # In the category's words, with what the system recorded beside them (issue 20 item 5).
    expect(items.first.locator(".failure-what")).to_have_text(
        "The database could not be reached while the export ran."
    )
    expect(items.first).to_contain_text("What the system recorded: The database did not answer in time.")
    screenshot(page, "schedule-page-failed")
    assert_fits(page)

    marker = page.evaluate("() => (window.__noReload = Math.random())")
    items.first.get_by_role("button", name=re.compile("^Retry")).click()  # one click
    expect(
        page.locator("#toasts .toast").filter(has_text="Retrying for the same period").first
    ).to_be_visible()
    expect(items).to_have_count(2)
    newest = items.first
    expect(newest).to_have_attribute("data-status", re.compile("PENDING|PROCESSING|COMPLETED|EMAILED"))
    # The new run's status polls in place until it has finished.
    expect(newest.locator("[data-status]").first).to_have_attribute(
        "data-status", re.compile("^(COMPLETED|EMAILED)$"), timeout=30_000
    )
    assert page.evaluate("() => window.__noReload") == marker, "the page reloaded"
    # The mail leaves through the outbox just after the file is ready: who got it shows then.
    newest = page.locator(".timeline-item").first
    for _ in range(50):
        page.reload()
        if "books@example.com" in newest.inner_text():
            break
        page.wait_for_timeout(200)
    expect(newest).to_contain_text("records")
    expect(newest.locator(".delivery")).to_contain_text("delivered books@example.com")
    expect(newest).to_contain_text("1 Nov 2026 – 30 Nov 2026")  # the same period as the failed run
    with page.expect_download() as download:
        newest.get_by_role("link", name=re.compile("^Download")).click()
    assert download.value.suggested_filename.endswith(".csv")
    screenshot(page, "schedule-page")
    assert_fits(page)
