"""Destinations in a real browser (issue 19): add a webhook and a Slack destination in the schedule
form, save, "send a test" to each, run the schedule and read each destination's result in the run's
history. Screenshots in tests/artifacts/screenshots/ (destinations-form, destinations-history)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import assert_fits, screenshot, sign_in
from tests.destinations.servers import start_receiver

pytestmark = pytest.mark.browser


@pytest.fixture
def receivers(live_server):
    ok, stop_ok = start_receiver()
    refusing, stop_refusing = start_receiver(script=[404, 404, 404])
    live_server.app.config["DESTINATIONS_ALLOW_PRIVATE"] = True  # the receivers are on loopback
    yield ok, refusing
    live_server.app.config["DESTINATIONS_ALLOW_PRIVATE"] = False
    stop_ok()
    stop_refusing()


def _schedule(live_server) -> str:
    from dashboard.extensions import db
    from dashboard.models import Business, User
    from dashboard.services import schedules

    with live_server.app_context():
        business = db.session.query(Business).filter_by(name=live_server.people.business_name).one()
        owner = db.session.query(User).filter_by(email=live_server.people.owner_email).one()
        schedule = schedules.create_schedule(
            business,
            owner,
            {
                "name": "Monthly sales for the accountant",
                "export_type": "SALES",
                "format": "csv",
                "frequency": "MONTHLY",
                "day_of_month": 1,
                "hour": 7,
                "recipients": ["accountant@example.com"],
                "filters": {"date_range": "previous_month"},
            },
        )
        return str(schedule.id)


def _add(page, kind: str) -> object:
    page.locator("#new-destination-kind").select_option(kind)
    before = page.locator(".destination-row").count()
    page.get_by_role("button", name="+ Add a destination").click()
    expect(page.locator(".destination-row")).to_have_count(before + 1)
    return page.locator(".destination-row").nth(before)


def test_destinations_in_the_form_and_their_results_in_history(page, live_server, receivers):
    ok, refusing = receivers
    schedule_id = _schedule(live_server)
    sign_in(page, live_server.people.owner_email)
    page.goto(f"/schedules/{schedule_id}/edit")

    webhook = _add(page, "webhook")
    webhook.get_by_label("URL").fill(ok.url)
    webhook.get_by_label("Signing secret").fill("whsec_browser_0123456789")
    slack = _add(page, "slack")
    slack.get_by_label("URL").fill(refusing.url)
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(lambda url: "/edit" not in url)

    page.goto(f"/schedules/{schedule_id}/edit")
    rows = page.locator(".destination-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".destination-secret-set")).to_contain_text("Set (stored encrypted).")
    assert "whsec_browser" not in page.content()
    rows.nth(0).get_by_role("button", name="Send a test").click()
    expect(rows.nth(0).locator("[data-test-delivered='true']")).to_contain_text("Test delivered")
    rows.nth(1).get_by_role("button", name="Send a test").click()
    expect(rows.nth(1).locator("[data-test-delivered='false']")).to_contain_text("answered 404")
    assert len(ok.received) == 1
    page.locator("#destinations").scroll_into_view_if_needed()
    screenshot(page, "destinations-form")
    assert_fits(page)

    # Run it now and read each destination's result on the run's page.
    from dashboard.automation.runner import ScheduledExportRunner
    from dashboard.extensions import db
    from dashboard.models import ExportSchedule

    with live_server.app_context():
        history = ScheduledExportRunner().execute_schedule(
            db.session.get(ExportSchedule, __import__("uuid").UUID(schedule_id))
        )
        run_id = str(history.id)
    page.goto(f"/history/{run_id}")
    results = page.locator("#destination-delivery li")
    expect(results).to_have_count(2)
    expect(results.nth(0)).to_contain_text("delivered")
    expect(results.nth(0)).to_contain_text(ok.url)
    expect(results.nth(1)).to_contain_text("failed")
    expect(results.nth(1)).to_contain_text("answered 404")
    page.locator("#destination-delivery").scroll_into_view_if_needed()
    screenshot(page, "destinations-history")
    assert_fits(page)
