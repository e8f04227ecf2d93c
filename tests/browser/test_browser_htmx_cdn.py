"""htmx from its CDN, in a real browser: with the CDN unreachable the pages still work (the
committed copy loads by itself), and the CDN's bytes pass the integrity check (contract section 1).

There is no internet here: Playwright's `page.route` either blocks the CDN's URL or serves it from
the committed file, as the CDN would. The server runs with the default HTMX_URL (the CDN)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

import config
from config import TestConfig
from tests.browser.browser_helpers import DESKTOP, PASSWORD, sign_in

pytestmark = pytest.mark.browser

LOCAL_FILE = Path(__file__).resolve().parents[2] / "static" / "vendor" / f"htmx-{config.HTMX_VERSION}.min.js"
EMAIL = "cdn.owner@bakery.example.com"


@pytest.fixture(scope="module")
def cdn_server(tmp_path_factory):
    from dashboard import create_app
    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User

    root = tmp_path_factory.mktemp("cdn")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{root / 'cdn.sqlite3'}",
        EXPORT_ROOT=str(root / "exports"),
        MAIL_OUTBOX_DIR=str(root / "outbox"),
        WTF_CSRF_ENABLED=True,
        HTMX_URL="",  # the default outside tests: the CDN, with the local fallback
    )
    with app.app_context():
        db.create_all()
        business = Business(name="CDN Bakery", timezone="Europe/London", currency="GBP")
        user = User(email=EMAIL, name="Cleo Owner")
        user.set_password(PASSWORD)
        db.session.add_all([business, user, Membership(user=user, business=business, role="owner")])
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="cdn-server", daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _page(browser, url: str, cdn: str):
    context = browser.new_context(base_url=url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    if cdn == "blocked":
        context.route("https://cdn.jsdelivr.net/**", lambda route: route.abort("internetdisconnected"))
    elif cdn == "served":
        body = LOCAL_FILE.read_bytes()
        context.route(
            "https://cdn.jsdelivr.net/**",
            lambda route: route.fulfill(
                status=200,
                body=body,
                headers={"Content-Type": "text/javascript", "Access-Control-Allow-Origin": "*"},
            ),
        )
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and ("Content Security Policy" in msg.text or "integrity" in msg.text)
            else None
        ),
    )
    return context, page, requests, errors


def _add_a_recipient_through_htmx(page) -> None:
    page.goto("/schedules/new")
    rows = page.locator("#recipient-list li")
    before = rows.count()
    with page.expect_request(lambda r: "/schedules/" in r.url and r.headers.get("hx-request") == "true"):
        page.get_by_role("button", name="+ Add a recipient").click()
    # Waited for by a locator, not page.wait_for_function: its string is eval()ed in the page once
    # the answer is late, and the CSP (rightly) refuses eval.
    expect(rows.nth(before)).to_be_attached()


@pytest.mark.parametrize("cdn", ["blocked", "served"])
def test_pages_work_whether_or_not_the_cdn_answers(browser, cdn_server, cdn):
    app, url = cdn_server
    context, page, requests, errors = _page(browser, url, cdn)
    try:
        sign_in(page, EMAIL)
        assert page.evaluate("() => window.htmx && window.htmx.version") == config.HTMX_VERSION
        _add_a_recipient_through_htmx(page)
        local = [u for u in requests if u.endswith(f"/static/vendor/htmx-{config.HTMX_VERSION}.min.js")]
        cdn_requests = [u for u in requests if u == app.config["HTMX_CDN_URL"]]
        assert cdn_requests, "every page asks the CDN first"
        if cdn == "blocked":
            assert local, "the committed copy was not loaded when the CDN was unreachable"
        else:
            # The CDN's bytes passed the browser's integrity check: the fallback was never needed.
            assert not local, f"the fallback ran although the CDN answered: {local}"
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        context.close()
