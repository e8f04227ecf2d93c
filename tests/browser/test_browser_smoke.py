"""Foundation: a person signs in through the real login page and sees the dashboard."""

import pytest

from tests.browser.browser_helpers import sign_in

pytestmark = pytest.mark.browser


def test_sign_in_through_the_login_page_and_see_the_dashboard(page, live_server):
    sign_in(page, live_server.people.owner_email)
    assert page.get_by_role("heading", level=1).inner_text() == live_server.people.business_name
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedules").is_visible()
