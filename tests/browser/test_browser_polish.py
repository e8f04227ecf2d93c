"""What every htmx page shares, in a real browser: the loading indicator of a slow request, submit
buttons that wait for the answer, and a toast that never stands over a row's buttons."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import PHONE, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _watch_indicator(page) -> None:
    page.evaluate(
        """() => { window.__saw = {text: false, busy: false};
                   new MutationObserver(() => {
                     if (document.getElementById('loading').textContent === 'Loading…') window.__saw.text = true;
                     if (document.documentElement.classList.contains('is-loading')) window.__saw.busy = true;
                   }).observe(document.documentElement, {attributes: true, childList: true, characterData: true, subtree: true}); }"""
    )


def test_a_slow_request_shows_the_loading_indicator(page, live_server):
    sign_in(page, live_server.people.owner_email)
    page.goto("/history/")
    _watch_indicator(page)

    def slow(route):
        time.sleep(0.9)  # the browser's own timers run on: slower than the 300 ms threshold
        route.continue_()

    page.route("**/history/?*", slow)
    with page.expect_response(lambda r: "/history/?" in r.url):
        page.locator("#h-status").select_option(index=1)
    expect(page.locator("#loading")).to_have_text("")  # gone once the answer arrived
    assert page.evaluate("() => window.__saw") == {"text": True, "busy": True}
    assert not page.evaluate("() => document.documentElement.classList.contains('is-loading')")


def test_a_quick_request_shows_no_indicator(page, live_server):
    sign_in(page, live_server.people.owner_email)
    page.goto("/history/")
    _watch_indicator(page)
    # Answered at once by the browser itself, so a busy machine cannot make it slow.
    page.route("**/history/?*", lambda route: route.fulfill(status=200, body="<p>No runs match.</p>"))
    with page.expect_response(lambda r: "/history/?" in r.url):
        page.locator("#h-status").select_option(index=1)
    page.wait_for_timeout(400)
    assert page.evaluate("() => window.__saw") == {"text": False, "busy": False}


@pytest.mark.parametrize("viewport", [None, PHONE])
def test_the_toast_never_covers_a_row_button(page, live_server, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    sign_in(page, live_server.people.owner_email)
    page.goto("/people/")
    page.get_by_label("Name", exact=True).fill("Toast check")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#toasts .toast").first).to_be_visible()
    covered = page.evaluate(
        """() => [...document.querySelectorAll('main button, main select, main a')].filter(el => {
                 const r = el.getBoundingClientRect();
                 if (!r.width || r.bottom < 0 || r.top > innerHeight) return false;
                 const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                 return hit && !el.contains(hit) && hit.closest('#toasts');
               }).map(el => el.textContent.trim())"""
    )
    assert covered == [], f"the toast covers {covered}"
    page.locator("tr", has_text="Toast check").get_by_role("button", name="Revoke").click()
