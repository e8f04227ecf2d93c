"""The new-schedule form serves the common case (issue 20 items 1-2, issue 18 item 2).

The core task, "yesterday's sales as Excel in my inbox every morning at 7", is counted in clicks
and typed fields from the schedules list: from a recipe, and from scratch. Then the form's help:
the period follows the frequency until picked, a mismatch is warned about, fields are checked as
they change, a failed save focuses the first invalid field, and "London" finds its timezone.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SENTENCE = re.compile(
    r"^Every day at 07:00 Europe/London you'll get yesterday's sales as Excel\. "
    r"Next: \w{3} \d{1,2} \w{3}, covering \w{3} \d{1,2} \w{3}\.$"
)


@pytest.fixture(autouse=True)
def _leave_no_schedules(live_server):
    """The live server is shared with other modules, which count schedules: remove what we made."""
    from sqlalchemy import delete, select

    from dashboard.extensions import db
    from dashboard.models import ExportSchedule

    with live_server.app_context():
        before = set(db.session.scalars(select(ExportSchedule.id)))
    yield
    with live_server.app_context():
        db.session.execute(delete(ExportSchedule).where(ExportSchedule.id.not_in(before)))
        db.session.commit()


class Clicks:
    """Counts what the person does: each click, and each field they type into."""

    def __init__(self, page):
        self.page = page
        self.clicks = 0
        self.typed = 0

    def click(self, locator):
        self.clicks += 1
        locator.click()

    def fill(self, locator, text: str):
        self.typed += 1
        locator.fill(text)


def _saved(live_server, name: str):
    from sqlalchemy import select

    from dashboard.extensions import db
    from dashboard.models import ExportSchedule

    with live_server.app_context():
        schedule = db.session.scalars(
            select(ExportSchedule)
            .where(ExportSchedule.name == name)
            .order_by(ExportSchedule.created_at.desc())
        ).first()
        assert schedule is not None, name
        db.session.expunge(schedule)
        return schedule


def _assert_core_task(live_server, schedule, email: str) -> None:
    assert (schedule.export_type, schedule.format, schedule.frequency) == ("SALES", "excel", "DAILY")
    assert (schedule.hour, schedule.minute, schedule.timezone) == (7, 0, "Europe/London")
    assert schedule.filters == {"date_range": "yesterday"}
    assert schedule.is_active
    from dashboard.extensions import db
    from dashboard.models import ExportSchedule

    with live_server.app_context():
        assert db.session.get(ExportSchedule, schedule.id).get_recipients_list() == [email]


def test_the_core_task_from_a_recipe_takes_three_clicks(page, live_server):
    sign_in(page, live_server.people.manager_email)
    page.goto("/schedules/")
    person = Clicks(page)
    person.click(page.get_by_role("link", name="New schedule"))
    person.click(page.get_by_role("link", name=re.compile("^Yesterday's sales every morning at 7")))
    expect(page.locator("[data-sentence]")).to_have_text(SENTENCE)
    expect(page.get_by_label("Name")).to_have_value("Yesterday's sales")
    person.click(page.get_by_role("button", name="Create schedule"))
    page.wait_for_url(re.compile(r"/schedules/"))
    expect(page.locator("#toasts .toast").filter(has_text="saved").first).to_be_visible()
    assert (person.clicks, person.typed) == (3, 0)
    _assert_core_task(live_server, _saved(live_server, "Yesterday's sales"), live_server.people.manager_email)


def test_the_core_task_from_scratch_takes_two_clicks_and_no_typing(page, live_server):
    sign_in(page, live_server.people.owner_email)
    page.goto("/schedules/")
    person = Clicks(page)
    person.click(page.get_by_role("link", name="New schedule"))
    # The defaults are the common case: nothing to change, the sentence says so.
    expect(page.locator("[data-sentence]")).to_have_text(SENTENCE)
    expect(page.get_by_label("Name")).to_have_value("Yesterday's sales, every day at 07:00")
    expect(page.get_by_label("Period")).to_have_value("yesterday")
    screenshot(page, "schedule-new")
    person.click(page.get_by_role("button", name="Create schedule"))
    expect(page.locator("#toasts .toast").filter(has_text="saved").first).to_be_visible()
    assert (person.clicks, person.typed) == (2, 0)
    schedule = _saved(live_server, "Yesterday's sales, every day at 07:00")
    _assert_core_task(live_server, schedule, live_server.people.owner_email)


def test_the_period_follows_the_frequency_until_picked_and_a_mismatch_is_warned(page, live_server):
    sign_in(page, live_server.people.owner_email)
    page.goto("/schedules/new")
    period, frequency, name = (
        page.get_by_label("Period"),
        page.get_by_label("How often"),
        page.get_by_label("Name"),
    )
    sentence = page.locator("[data-sentence]")

    frequency.select_option("MONTHLY")
    expect(period).to_have_value("previous_month")
    expect(sentence).to_contain_text(
        "On day 1 of each month at 07:00 Europe/London you'll get last month's sales"
    )
    expect(name).to_have_value("Last month's sales, on day 1 of each month at 07:00")  # the name follows too
    frequency.select_option("WEEKLY")
    expect(period).to_have_value("previous_week")
    expect(sentence).to_contain_text("covering Mon")
    expect(page.locator("[data-period-warning]")).to_have_count(0)

    # Picked by the person: it stays, and a mismatch is said in words.
    period.select_option("yesterday")
    frequency.select_option("MONTHLY")
    expect(period).to_have_value("yesterday")
    expect(page.locator("[data-period-warning]")).to_have_text(
        "This runs every month but covers “Yesterday”: the rest of each month is never sent. "
        "“Previous month” covers each month once."
    )
    screenshot(page, "schedule-new-warning")
    period.select_option("previous_month")
    expect(page.locator("[data-period-warning]")).to_have_count(0)

    # A name typed by the person is theirs: choices no longer rename it.
    name.fill("Month end for the accountant")
    frequency.select_option("DAILY")
    expect(sentence).to_contain_text("Every day at 07:00")
    expect(name).to_have_value("Month end for the accountant")


def test_fields_are_checked_as_they_change_and_a_failed_save_focuses_the_first(page, live_server):
    sign_in(page, live_server.people.owner_email)
    page.goto("/schedules/new")
    name, hour = page.get_by_label("Name"), page.get_by_label("Hour", exact=True)

    hour.fill("25")
    hour.blur()
    expect(page.locator("#hour-errors")).to_have_text("Enter an hour from 0 to 23.")
    expect(hour).to_have_attribute("aria-invalid", "true")
    hour.fill("6")
    hour.blur()
    expect(page.locator("#hour-errors")).to_have_text("")
    expect(hour).not_to_have_attribute("aria-invalid", "true")

    # A failed save: the summary lists the problems in the form's order, focus on the first field.
    name.fill("")
    hour.fill("24")
    page.get_by_role("button", name="Create schedule").click()
    summary = page.locator(".error-summary li")
    expect(summary).to_have_count(2)
    expect(summary.nth(0)).to_contain_text("Name")
    expect(summary.nth(1)).to_contain_text("Hour")
    expect(page.get_by_label("Name")).to_be_focused()
    expect(page.locator("#start-from")).to_have_count(0)  # the re-rendered form adds no second copy
    screenshot(page, "schedule-form-errors")

    # Fixing a field clears its error and its line of the summary; the last fix clears the summary.
    page.get_by_label("Name").fill("Early sales")
    page.get_by_label("Name").blur()
    expect(page.locator("#name-errors")).to_have_text("")
    expect(summary).to_have_count(1)
    page.get_by_label("Hour", exact=True).fill("5")
    page.get_by_label("Hour", exact=True).blur()
    expect(page.locator(".form-alert")).to_have_count(0)
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("#toasts .toast").filter(has_text="Early sales").first).to_be_visible()


def test_london_finds_its_timezone(page, live_server):
    sign_in(page, live_server.people.owner_email)
    page.goto("/schedules/new")
    box = page.get_by_label("Timezone")
    box.fill("")
    box.press_sequentially("London", delay=20)
    option = page.get_by_role("button", name=re.compile(r"^London Europe\/London"))
    expect(option).to_be_visible()
    box.fill("new york")
    page.get_by_role("button", name=re.compile(r"^New York America\/New_York")).click()
    expect(box).to_have_value("America/New_York")
    expect(page.locator("[data-sentence]")).to_contain_text("at 07:00 America/New_York")
    # A city typed whole is read as its zone.
    box.fill("London")
    box.blur()
    expect(page.locator("[data-sentence]")).to_contain_text("at 07:00 Europe/London")
