"""Sign-in, sign-out, remember-me, throttling, tampered sessions, tokens and the business switcher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.auth.tokens import create_token, hash_token
from dashboard.extensions import db
from dashboard.models import ApiToken, Membership
from dashboard.models.types import utcnow


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b"Sign in" in response.data


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_and_logout(client, auth, tenant):
    response = auth.login(tenant.owner.email)
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert b"Test Shop" in page.data
    auth.logout()
    assert client.get("/").status_code == 302


def test_login_is_case_insensitive_on_email(client, auth, tenant):
    assert auth.login(tenant.owner.email.upper()).status_code == 302


@pytest.mark.parametrize(
    "email,password",
    [("owner@shop-one.example.com", "wrong-password"), ("nobody@example.com", "whatever-it-is")],
)
def test_wrong_password_and_unknown_user_get_the_same_answer(client, auth, tenant, email, password):
    response = auth.login(email, password)
    assert response.status_code == 401
    assert b"do not match an account" in response.data
    assert client.get("/").status_code == 302


def test_disabled_membership_cannot_sign_in(client, auth, tenant):
    membership = db.session.query(Membership).filter_by(user_id=tenant.manager.id).one()
    membership.is_active = False
    db.session.commit()
    response = auth.login(tenant.manager.email)
    assert response.status_code == 403
    assert b"disabled" in response.data


def test_next_parameter_cannot_redirect_off_site(client, tenant):
    response = client.post(
        "/login?next=https://evil.example.com/",
        data={"email": tenant.owner.email, "password": "correct-horse-battery"},
    )
    assert response.headers["Location"] == "/"


def test_tampered_session_is_signed_out(client, auth, tenant):
    auth.login(tenant.owner.email)
    cookie = client.get_cookie("session")
    tampered = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    client.delete_cookie("session", domain=cookie.domain, path=cookie.path)
    client.set_cookie("session", tampered, domain=cookie.domain, path=cookie.path)
    assert client.get_cookie("session", domain=cookie.domain).value == tampered
    assert client.get("/").status_code == 302


def test_password_change_version_invalidates_sessions(client, auth, tenant):
    auth.login(tenant.owner.email)
    tenant.owner.session_version += 1
    db.session.commit()
    assert client.get("/").status_code == 302


def test_remember_me_sets_a_cookie_with_safe_flags(client, auth, tenant):
    response = auth.login(tenant.owner.email, remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember and "HttpOnly" in remember[0] and "SameSite=Lax" in remember[0]


def test_login_is_throttled_after_repeated_failures(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        from tests.conftest import Factory

        business = Factory(app).business()
        Factory(app).user(business, email="victim@example.com")
    codes = [
        client.post("/login", data={"email": "victim@example.com", "password": "bad-password"}).status_code
        for _ in range(4)
    ]
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429
    assert (
        b"Too many requests"
        in client.post("/login", data={"email": "victim@example.com", "password": "x"}).data
    )


def test_switch_business(client, auth, factory, tenant, other_tenant):
    factory.member(tenant.owner, other_tenant.business, role="manager")
    auth.login(tenant.owner.email)
    assert b"Other Shop" in client.get("/").data  # the switcher lists both, sorted by name
    response = client.post("/switch-business", data={"business_id": str(other_tenant.business.id)})
    assert response.status_code == 302
    page = client.get("/").data.decode()
    assert "<h1>Other Shop</h1>" in page


def test_cannot_switch_to_a_business_you_are_not_in(client, auth, tenant, other_tenant):
    auth.login(tenant.owner.email)
    response = client.post("/switch-business", data={"business_id": str(other_tenant.business.id)})
    assert response.status_code == 303
    assert "<h1>Test Shop</h1>" in client.get("/").data.decode()


def test_tokens_are_stored_hashed_and_revocable(app, tenant, runner):
    membership = tenant.owner.memberships[0]
    token = create_token(membership)
    stored = db.session.query(ApiToken).one()
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    result = runner.invoke(args=["users", "revoke-tokens", tenant.owner.email])
    assert "Revoked 1 token" in result.output
    db.session.refresh(stored)
    assert stored.revoked_at is not None


def test_expired_token_is_rejected(app, tenant):
    from dashboard.auth.tokens import membership_for_token

    token = create_token(tenant.owner.memberships[0], expires_at=utcnow() - timedelta(seconds=1))
    assert membership_for_token(token) is None
    assert membership_for_token("ea_unknown") is None


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
