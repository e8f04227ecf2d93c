"""The dashboard in a real browser: what a store manager does, step by step, without page reloads.

One live server and one Chromium for the module (see conftest.py); each test has its own browser
context (its own cookies). The owner's journey is one test because each step needs the previous
one's result (the schedule, then its run, then its file).
"""

from __future__ import annotations

import re
import time
from io import BytesIO

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.browser_helpers import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FINISHED = re.compile(r"^(COMPLETED|EMAILED)$")
RUNNING = ("PENDING", "PROCESSING")


def _toast(page, text: str):
    expect(page.locator("#toasts .toast").filter(has_text=text).first).to_be_visible()


def _status_of(locator) -> str:
    return locator.get_attribute("data-status") or ""


def _watch_until_finished(page, locator, timeout_ms: int = 30_000) -> list[str]:
    """The statuses one element shows, polled by htmx in place, until the run has finished.

    Records every state seen and checks the page never reloaded while watching.
    """
    marker = page.evaluate("() => (window.__noReload = Math.random())")
    seen = [_status_of(locator)]
    deadline = timeout_ms / 100
    for _ in range(int(deadline)):
        status = _status_of(locator)
        if status != seen[-1]:
            seen.append(status)
        if FINISHED.match(status):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("() => window.__noReload") == marker, "the page reloaded"
    return seen


def test_owner_creates_runs_downloads_deactivates_and_deletes_a_schedule(page, live_server, tmp_path):
    sign_in(page, live_server.people.owner_email)
    expect(page.get_by_text("No schedules yet — create your first.")).to_be_visible()

    # --- Create a weekly schedule through the form ------------------------------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedules").click()
    expect(page.get_by_text("No schedules yet — create your first.")).to_be_visible()
    page.get_by_role("link", name="New schedule").click()
    page.get_by_label("Name").fill("Weekly sales for Sam")
    page.get_by_label("File format").select_option("excel")

    # The day fields follow the frequency (re-rendered by the server), and the preview with them.
    page.get_by_label("How often").select_option("MONTHLY")
    expect(page.get_by_label("Day of the month", exact=True)).to_be_visible()
    expect(page.locator("[data-sentence]")).to_contain_text("On day 1 of each month at 07:00")
    page.get_by_label("How often").select_option("WEEKLY")
    expect(page.get_by_label("On", exact=True)).to_be_visible()
    page.get_by_label("On", exact=True).select_option(label="Wednesday")
    page.get_by_label("Hour", exact=True).fill("7")
    page.get_by_label("Minute", exact=True).fill("30")
    expect(page.locator("[data-sentence]")).to_contain_text("Every Wednesday at 07:30 Europe/London")
    runs = page.locator(".preview-runs li")
    expect(runs).to_have_count(5)
    for text in runs.all_inner_texts():
        assert re.match(r"^Wed \d+ \w{3} \d{4}, 07:30 (GMT|BST)", text), text

    # Each recipient is checked as it is typed, with the API's words.
    recipient = page.get_by_label("Recipient e-mail address").first
    recipient.fill("sam@")
    expect(page.locator(".recipient-row .field-error")).to_have_text("'sam@' is not a valid e-mail address.")
    recipient.fill("sam@example.com")
    expect(page.locator(".recipient-row .field-error")).to_have_count(0)

    # No period (the period followed the frequency until the person chose none): the error
    # appears beside the field, the form keeps what was typed.
    page.get_by_label("Period").select_option("")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("#filters-date_range-errors")).to_have_text(
        "Choose a date range, or give a start date and an end date."
    )
    expect(page.get_by_label("Name")).to_have_value("Weekly sales for Sam")
    expect(page.get_by_label("Period")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "schedule-form-errors")

    # Fixed on the way: a period in words.
    page.get_by_label("Period").select_option(label="Year to date")
    page.get_by_role("button", name="Create schedule").dblclick()
    page.wait_for_url(re.compile(r"/schedules/$"))
    _toast(page, "Schedule “Weekly sales for Sam” saved.")
    rows = page.locator("tr[data-schedule-name]")
    expect(rows).to_have_count(1)  # a double click creates one schedule
    row = rows.first
    expect(row).to_contain_text("Every Wednesday at 07:30 (Europe/London)")
    expect(row.locator("[data-status]").first).to_have_text("Active")
    time_tag = row.locator("td[data-label='Next run'] time")
    assert re.match(r"\d{1,2} [A-Z][a-z]{2} \d{4}, (06|07):30 UTC", time_tag.get_attribute("title"))

    # --- Run now: the run's status updates in place until it has finished -------------------
    row.get_by_role("button", name=re.compile("^Run now")).click()
    _toast(page, "is running now")
    status = row.locator(".run-status")
    expect(status).to_be_visible()
    seen = _watch_until_finished(page, status)
    assert seen[0] in RUNNING, seen
    assert FINISHED.match(seen[-1]), seen

    # --- Download the file --------------------------------------------------------------------
    with page.expect_download() as download_info:
        status.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    sheet = load_workbook(BytesIO(path.read_bytes()), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) > 10

    # --- History: the run is there; "Run again" adds a live row on top -----------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    history_rows = page.locator("#history-rows > tr")
    expect(history_rows).to_have_count(1)
    expect(history_rows.first).to_have_attribute("data-status", FINISHED)
    history_rows.first.get_by_role("button", name="Run again").click()
    expect(history_rows).to_have_count(2)
    new_row = history_rows.first
    seen = _watch_until_finished(page, new_row)
    assert seen[0] in RUNNING, seen
    assert FINISHED.match(seen[-1]), seen
    expect(new_row.locator("td[data-label='Took']")).to_have_text(re.compile(r"^(<1s|\d+s|\d+m \d+s)$"))
    expect(new_row.locator("td[data-label='Size']")).to_have_text(re.compile(r"KB|MB|bytes"))
    with page.expect_download() as download_info:
        new_row.get_by_role("link", name=re.compile("^Download")).click()
    assert download_info.value.suggested_filename.endswith(".xlsx")

    # The detail view: which recipients the mail server accepted.
    new_row.get_by_role("link", name="Details").click()
    expect(page.get_by_role("heading", name="E-mail")).to_be_visible()
    expect(page.locator(".delivery")).to_contain_text("sam@example.com")

    # --- Deactivate, then delete ----------------------------------------------------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedules").click()
    row = page.locator("tr[data-schedule-name='Weekly sales for Sam']")
    # Everything but "Run now" is in the row's menu (issue 20 item 3).
    row.get_by_text("More").click()
    row.get_by_role("button", name="Deactivate").click()
    _toast(page, "is inactive")
    expect(row.locator("td[data-label='Status'] [data-status]")).to_have_text("Inactive")
    row.get_by_text("More").click()
    expect(row.get_by_role("button", name="Activate")).to_be_visible()
    row.get_by_role("button", name="Delete").click()  # the confirmation dialog is accepted
    _toast(page, "was deleted")
    expect(page.locator("tr[data-schedule-name]")).to_have_count(0)

    # --- Home and statistics now show the two runs ---------------------------------------------
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", name="Latest exports")).to_be_visible()
    expect(page.locator(".latest li")).to_have_count(2)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Statistics").click()
    expect(page.locator("[data-figure=total]")).to_have_text("2")
    expect(page.locator("svg.chart-svg").first).to_be_visible()


def test_manager_does_not_see_statistics_and_gets_403(page, live_server):
    sign_in(page, live_server.people.manager_email)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Schedules")).to_be_visible()
    expect(nav.get_by_role("link", name="Statistics")).to_have_count(0)
    expect(nav.get_by_role("link", name="Notifications")).to_have_count(0)
    response = page.goto("/statistics/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def _finished_one_off_export(live_server):
    """A CSV export run by the runner's workers, waited for; returns its signed e-mail link."""
    from dashboard.extensions import db
    from dashboard.models import Business, ExportHistory
    from dashboard.services import runs
    from dashboard.storage.links import make_download_url

    with live_server.app_context():
        business = db.session.query(Business).filter_by(name=live_server.people.business_name).one()
        history_id = runs.start_one_off_export(business, None, "CUSTOMERS", "csv", {}, [], "MANUAL").id
        for _ in range(300):
            db.session.expire_all()
            history = db.session.get(ExportHistory, history_id)
            if history.status in ("COMPLETED", "EMAILED", "FAILED"):
                break
            time.sleep(0.1)
        assert history.is_downloadable, (history.status, history.error_message)
        return make_download_url(history)


def test_email_download_link_works_signed_out(browser, live_server, tmp_path):
    url = _finished_one_off_export(live_server)
    context = browser.new_context(viewport={"width": 375, "height": 812}, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(url)
        expect(page.get_by_role("heading", name="Your export is ready")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_have_count(0)  # not signed in
        with page.expect_download() as download_info:
            page.get_by_role("link", name=re.compile("^Download")).click()
        path = tmp_path / "customers.csv"
        download_info.value.save_as(path)
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # CSV with a BOM
        screenshot(page, "download-link")
        # A tampered link gets a clear page, never the file.
        response = page.goto(url[:-3] + "xyz")
        assert response.status == 404
    finally:
        context.close()
