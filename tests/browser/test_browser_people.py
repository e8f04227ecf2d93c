"""People in a real browser: an owner invites a manager who joins through the mailed link (a real SMTP
server, aiosmtpd on loopback, the link read from the received mail), an owner revokes an API token
(the API then answers 401), a person changes their password (their other sessions end)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.browser_helpers import DESKTOP, PASSWORD, screenshot, sign_in
from tests.delivery.conftest import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def smtp(live_server):
    """A real SMTP server, and the live app sending to it for the length of the test."""
    server = SmtpServer().start()
    config = live_server.app.config
    saved = {
        key: config.get(key) for key in ("MAIL_SERVER", "MAIL_PORT", "MAIL_SUPPRESS_SEND", "MAIL_TIMEOUT")
    }
    config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=5)
    yield server
    config.update(saved)
    server.stop()


def _new_member(live_server, role: str = "manager") -> str:
    """A person of the bakery of their own, so that changing their password touches no other test."""
    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User

    email = f"pat-{uuid.uuid4().hex[:8]}@bakery.example.com"
    with live_server.app_context():
        business = db.session.query(Business).filter_by(name=live_server.people.business_name).one()
        user = User(email=email, name="Pat Person")
        user.set_password(PASSWORD)
        db.session.add_all([user, Membership(user=user, business=business, role=role)])
        db.session.commit()
    return email


def _watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    return errors


def test_owner_invites_a_manager_who_joins_through_the_mailed_link(page, browser, live_server, smtp):
    email = f"new.manager.{uuid.uuid4().hex[:6]}@bakery.example.com"
    sign_in(page, live_server.people.owner_email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Name (optional)").fill("Nina New")
    page.get_by_label("Role", exact=True).select_option("manager")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#toasts .toast").filter(has_text=f"Invitation sent to {email}")).to_be_visible()
    row = page.locator("tr", has_text=email)
    expect(row.get_by_text("Invited")).to_be_visible()
    screenshot(page, "people-owner")

    [mail] = smtp.handler.to(email)
    body = mail.message.get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/join/\S+", body).group(0)

    invitee = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    try:
        joining = invitee.new_page()
        errors = _watch_errors(joining)
        joining.goto(link)
        expect(
            joining.get_by_role("heading", name=f"Join {live_server.people.business_name}")
        ).to_be_visible()
        screenshot(joining, "people-join")
        joining.get_by_label("Your name").fill("Nina New")
        joining.get_by_label("Password", exact=True).fill("nina-password-1")
        joining.get_by_label("Password again").fill("nina-password-1")
        joining.get_by_role("button", name=re.compile("^Join")).click()
        expect(joining.locator("#toasts .toast").filter(has_text="Welcome to")).to_be_visible()
        nav = joining.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="History")).to_be_visible()
        expect(nav.get_by_role("link", name="People")).to_have_count(0)  # a manager
        # The link worked once.
        joining.goto(link)
        expect(joining.get_by_text("already been used")).to_be_visible()
        assert [e for e in errors if "404" not in e] == []
    finally:
        invitee.close()
    page.reload()
    expect(page.locator("tr", has_text=email).get_by_text("Active")).to_be_visible()


def test_owner_revokes_a_token_and_the_api_then_answers_401(page, live_server):
    sign_in(page, live_server.people.owner_email)
    page.goto("/people/")
    name = f"Till {uuid.uuid4().hex[:4]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token-value").input_value()
    assert token.startswith("ea_")
    api = f"{live_server.url}/api/reports/automation/schedules/"
    assert requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200

    page.locator("tr", has_text=name).get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.locator("#toasts .toast").filter(has_text="revoked")).to_be_visible()
    expect(page.locator("tr", has_text=name)).to_have_count(0)
    assert requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401


def test_changing_the_password_ends_the_other_sessions(page, browser, live_server):
    email = _new_member(live_server)
    other = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    try:
        elsewhere = other.new_page()
        sign_in(elsewhere, email)
        sign_in(page, email)
        page.get_by_role("link", name="Pat Person").click()
        expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
        page.get_by_label("Current password").fill("not-my-password")
        page.get_by_label("New password", exact=True).fill("pat-new-password")
        page.get_by_label("New password again").fill("pat-new-password")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("That is not your current password.")).to_be_visible()
        screenshot(page, "account-error")
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill("pat-new-password")
        page.get_by_label("New password again").fill("pat-new-password")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator("#toasts .toast").filter(has_text="Password changed")).to_be_visible()
        # This browser stays signed in; the other one is sent to sign in again.
        page.goto("/history/")
        expect(page).to_have_url(re.compile("/history/"))
        elsewhere.goto("/history/")
        expect(elsewhere).to_have_url(re.compile("/login"))
        sign_in(elsewhere, email, "pat-new-password")
    finally:
        other.close()
