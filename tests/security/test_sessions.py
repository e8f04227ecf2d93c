"""Sessions end when their person says so (issue 15, item 4), and `next` never leaves the site.

A Flask session is a signed cookie held by the browser: "signing out" one copy does nothing to a
copy kept elsewhere (another device, a stolen cookie). These tests keep a copy of the session and
remember-me cookies, do what should end them, and present the copies again.
"""

from __future__ import annotations

import re
import time
from urllib.parse import unquote, urlsplit

import pytest

from dashboard.extensions import db
from dashboard.models import Membership, User
from tests.conftest import PASSWORD

DAY = 86400


def _signed_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200


def _cookies(client) -> dict[str, str]:
    return {
        name: client.get_cookie(name).value
        for name in ("session", "remember_token")
        if client.get_cookie(name)
    }


def _client_with(app, cookies: dict[str, str]):
    """A new browser holding only these cookies (a copy taken from another one)."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def _sign_in(client, email: str, remember: bool = True) -> None:
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert client.post("/login", data=data).status_code == 302


@pytest.fixture
def kept(app, client, tenant):
    """The owner signed in with "keep me signed in"; copies of both cookies, each on its own."""
    _sign_in(client, tenant.owner.email)
    cookies = _cookies(client)
    assert set(cookies) == {"session", "remember_token"}
    session_copy = _client_with(app, {"session": cookies["session"]})
    remember_copy = _client_with(app, {"remember_token": cookies["remember_token"]})
    assert _signed_in(session_copy) and _signed_in(remember_copy)
    # Fresh copies for after the event (the ones above were used once and may hold new cookies).
    return lambda: (
        _client_with(app, {"session": cookies["session"]}),
        _client_with(app, {"remember_token": cookies["remember_token"]}),
    )


def _assert_ended(kept) -> None:
    session_copy, remember_copy = kept()
    assert not _signed_in(session_copy), "the old session cookie still signs in"
    assert not _signed_in(remember_copy), "the old remember-me cookie still signs in"


def test_sign_out_ends_every_copy_of_the_session_and_the_remember_cookie(client, kept):
    assert client.post("/logout").status_code == 302
    _assert_ended(kept)


def test_flask_users_create_setting_the_password_again_ends_sessions(app, kept, tenant, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            tenant.owner.email,
            "--password",
            "a-brand-new-password",
            "--business",
            "Test Shop",
            "--role",
            "owner",
        ]
    )
    assert result.exit_code == 0, result.output
    _assert_ended(kept)


def test_a_password_change_ends_sessions(app, kept, tenant):
    user = db.session.get(User, tenant.owner.id)
    user.set_password("another-long-password")
    db.session.commit()
    _assert_ended(kept)


def test_removal_from_a_business_ends_sessions(app, kept, tenant, factory, other_tenant):
    # The owner also belongs to another business, so "no business left" is not what signs them out.
    factory.member(tenant.owner, other_tenant.business, role="manager")
    membership = (
        db.session.query(Membership).filter_by(user_id=tenant.owner.id, business_id=tenant.business.id).one()
    )
    membership.is_active = False
    db.session.commit()
    _assert_ended(kept)


def test_deleting_a_membership_ends_sessions(app, kept, tenant, factory, other_tenant):
    factory.member(tenant.owner, other_tenant.business, role="manager")
    membership = (
        db.session.query(Membership).filter_by(user_id=tenant.owner.id, business_id=tenant.business.id).one()
    )
    db.session.delete(membership)
    db.session.commit()
    _assert_ended(kept)


def test_flask_users_revoke_tokens_ends_sessions(app, kept, tenant, runner):
    result = runner.invoke(args=["users", "revoke-tokens", tenant.owner.email])
    assert result.exit_code == 0, result.output
    _assert_ended(kept)


def test_flask_users_sign_out_ends_sessions(app, kept, tenant, runner):
    result = runner.invoke(args=["users", "sign-out", tenant.owner.email.upper()])
    assert result.exit_code == 0, result.output
    assert tenant.owner.email in result.output
    _assert_ended(kept)
    # And the person can sign in again at once.
    fresh = app.test_client()
    _sign_in(fresh, tenant.owner.email, remember=False)
    assert _signed_in(fresh)


def test_flask_users_sign_out_of_an_unknown_address_fails_clearly(app, runner):
    result = runner.invoke(args=["users", "sign-out", "nobody@example.com"])
    assert result.exit_code == 2
    assert "no user with e-mail nobody@example.com" in result.output


def test_sign_out_leaves_other_people_signed_in(app, client, tenant):
    _sign_in(client, tenant.owner.email)
    other = app.test_client()
    _sign_in(other, tenant.manager.email)
    client.post("/logout")
    assert _signed_in(other)


def test_the_remember_cookie_is_checked_on_the_server_after_remember_cookie_days(
    app, client, tenant, monkeypatch
):
    app.config["REMEMBER_COOKIE_DAYS"] = 14
    _sign_in(client, tenant.owner.email)
    remember = client.get_cookie("remember_token").value
    # Its Expires says 14 days (not a year)...
    assert _signed_in(_client_with(app, {"remember_token": remember}))
    # ...and a browser (or a thief) that ignores Expires is refused by the server after 14 days.
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 13 * DAY)
    assert _signed_in(_client_with(app, {"remember_token": remember}))
    monkeypatch.setattr(time, "time", lambda: real() + 15 * DAY)
    assert not _signed_in(_client_with(app, {"remember_token": remember}))


def test_the_remember_cookie_expires_after_remember_cookie_days(app, client, tenant):
    response = client.post(
        "/login", data={"email": tenant.owner.email, "password": PASSWORD, "remember": "y"}
    )
    header = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    expires = re.search(r"Expires=([^;]+)", header).group(1)
    from email.utils import parsedate_to_datetime

    days = (parsedate_to_datetime(expires).timestamp() - time.time()) / DAY
    assert 13.9 < days <= 14.01, days


# --------------------------------------------------------------------------------------------
# `next` after sign-in


def _browser_reads(location: str, base: str = "http://localhost/login") -> tuple[str, str]:
    """(host, path) a browser goes to for this Location: WHATWG URL parsing of a special scheme
    strips leading/trailing C0 and spaces, drops tabs and newlines, and reads \\ as /."""
    text = location.strip("".join(chr(c) for c in range(0x21)))
    text = re.sub(r"[\t\n\r]", "", text).replace("\\", "/")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text):
        parts = urlsplit(text)
        return parts.scheme + "://" + (parts.netloc or ""), parts.path
    if text.startswith("//"):
        return "http://" + text.lstrip("/").split("/")[0], ""
    return "http://localhost", text


OFF_SITE = [
    "////evil.example/x",
    "///evil.example/x",
    "//evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example/x",
    "\\/evil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example/x",
    "\t//evil.example/x",
    " //evil.example/x",
    "/%2F%2Fevil.example/x",
    "%2F%2Fevil.example/x",
    "/%5Cevil.example/x",
    "%2f%2fevil.example",
    "https://evil.example/x",
    "http://localhost.evil.example/",
    "HTTPS://evil.example",
    "https:evil.example",
    "//localhost@evil.example/",
    "javascript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_off_site_is_never_followed(client, tenant, target):
    response = client.post(
        "/login", query_string={"next": target}, data={"email": tenant.owner.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    host, path = _browser_reads(location)
    assert host == "http://localhost", f"{target!r} -> Location {location!r} leaves the site"
    assert location == "/", f"{target!r} -> {location!r}"


@pytest.mark.parametrize(
    "target",
    ["/schedules/", "/history/?status=FAILED&page=2", "/schedules/new#recipients", "/a%20b/"],
)
def test_next_on_this_site_is_followed(client, tenant, target):
    response = client.post(
        "/login", query_string={"next": target}, data={"email": tenant.owner.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == target
    assert _browser_reads(response.headers["Location"])[0] == "http://localhost"
    assert unquote(urlsplit(target).path).startswith("/")


def test_a_switched_off_account_is_signed_out_at_once(app, kept, tenant):
    user = db.session.get(User, tenant.owner.id)
    user.is_active_user = False
    db.session.commit()
    _assert_ended(kept)
