"""People through the API: /api/business/members/, /api/business/tokens/, /api/me/ (contract section 6).

Invitations go through a real SMTP server (aiosmtpd on loopback); the link is read back from the
received mail and followed as the invitee would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models.pos import AuditLog, Membership, User
from dashboard.services import invitations
from tests.api.conftest import ApiClient, bearer
from tests.conftest import PASSWORD
from tests.delivery.conftest import SmtpServer, smtp_config

MEMBERS = "/api/business/members/"
TOKENS = "/api/business/tokens/"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(app_factory, smtp):
    application = app_factory(**smtp_config(smtp.port), BASE_URL="http://dashboard.example.com")
    with application.app_context():
        yield application


def _actions(business) -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).where(AuditLog.business_id == business.id)))


def _link_in(received) -> str:
    body = received.message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S+/join/\S+", body)
    assert match, body
    return match.group(0)


def test_owner_lists_members_in_the_paginated_shape(owner_api, tenant):
    response = owner_api.get(MEMBERS)
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 2 and body["next"] is None
    assert [m["email"] for m in body["results"]] == [tenant.owner.email, tenant.manager.email]
    assert {m["status"] for m in body["results"]} == {"active"}


@pytest.mark.parametrize(
    "method,path", [("GET", MEMBERS), ("POST", MEMBERS), ("GET", TOKENS), ("POST", TOKENS)]
)
def test_managers_get_403_and_strangers_401(manager_api, anon_api, method, path):
    assert manager_api._call(method, path, json={}).status_code == 403
    assert anon_api._call(method, path, json={}).status_code == 401


def test_invite_a_new_person_mails_a_link_that_sets_their_password(owner_api, client, tenant, smtp):
    response = owner_api.post(
        MEMBERS, json={"email": "new.person@example.com", "role": "manager", "name": "Nia"}
    )
    assert response.status_code == 201, response.get_json()
    member = response.get_json()
    assert member["status"] == "invited" and member["role"] == "manager" and member["mail_sent"] is True
    [mail] = smtp.handler.to("new.person@example.com")
    assert "invited you to Test Shop" in mail.message["Subject"]
    link = _link_in(mail)
    assert link.startswith("http://dashboard.example.com/join/")
    # The invitee cannot sign in before choosing a password.
    assert client.post("/login", data={"email": "new.person@example.com", "password": ""}).status_code != 302

    path = link.removeprefix("http://dashboard.example.com")
    assert client.get(path).status_code == 200
    short = client.post(path, data={"name": "Nia", "password": "short", "password_confirm": "short"})
    assert short.status_code == 422 and b"at least 8 characters" in short.data
    joined = client.post(
        path,
        data={"name": "Nia Newman", "password": "a-long-password", "password_confirm": "a-long-password"},
    )
    assert joined.status_code in (302, 303)
    assert client.get("/").status_code == 200  # signed in, in the business
    # The link works once.
    client.post("/logout")
    assert client.get(path).status_code == 404
    assert owner_api.get(MEMBERS + member["id"] + "/").get_json()["status"] == "active"
    assert {"members.invite", "members.join"} <= set(_actions(tenant.business))


def test_an_existing_account_joins_at_once(owner_api, other_tenant, smtp):
    response = owner_api.post(MEMBERS, json={"email": other_tenant.owner.email.upper(), "role": "owner"})
    assert response.status_code == 201
    assert response.get_json()["status"] == "active"
    [mail] = smtp.handler.to(other_tenant.owner.email)
    assert "/join/" not in mail.message.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "email"),
        ({"email": "not an address"}, "email"),
        ({"email": "x@example.com", "role": "admin"}, "role"),
        ({"email": "x@example.com", "rol": "manager"}, "rol"),
        ({"email": ["x@example.com"]}, "email"),
    ],
)
def test_bad_invitations_are_400_naming_the_field(owner_api, body, field):
    response = owner_api.post(MEMBERS, json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_inviting_a_member_twice_is_a_400(owner_api, tenant):
    response = owner_api.post(MEMBERS, json={"email": tenant.manager.email})
    assert response.status_code == 400 and "already a member" in response.get_json()["errors"]["email"][0]


def test_change_role_and_the_last_owner_stays(owner_api, tenant):
    members = {m["email"]: m for m in owner_api.get(MEMBERS).get_json()["results"]}
    owner_id, manager_id = members[tenant.owner.email]["id"], members[tenant.manager.email]["id"]
    refused = owner_api.patch(MEMBERS + owner_id + "/", json={"role": "manager"})
    assert refused.status_code == 409 and "at least one owner" in refused.get_json()["detail"]
    assert owner_api.delete(MEMBERS + owner_id + "/").status_code == 409
    promoted = owner_api.patch(MEMBERS + manager_id + "/", json={"role": "owner"})
    assert promoted.status_code == 200 and promoted.get_json()["role"] == "owner"
    # With a second owner, the first may step down.
    assert owner_api.patch(MEMBERS + owner_id + "/", json={"role": "manager"}).status_code == 200
    assert "members.role" in _actions(tenant.business)


def test_an_invited_owner_does_not_count_as_the_owner_left(owner_api, tenant):
    invited = owner_api.post(MEMBERS, json={"email": "later@example.com", "role": "owner"}).get_json()
    me = next(m for m in owner_api.get(MEMBERS).get_json()["results"] if m["email"] == tenant.owner.email)
    assert owner_api.patch(MEMBERS + me["id"] + "/", json={"role": "manager"}).status_code == 409
    assert invited["status"] == "invited"


def test_removing_a_member_ends_their_sessions_and_tokens(app, owner_api, tenant):
    manager_client = app.test_client()
    assert (
        manager_client.post("/login", data={"email": tenant.manager.email, "password": PASSWORD}).status_code
        == 302
    )
    assert manager_client.get("/").status_code == 200
    manager_token = ApiClient(app.test_client(), bearer(tenant.manager, tenant.business))
    assert manager_token.get("/api/reports/automation/schedules/").status_code == 200

    members = {m["email"]: m for m in owner_api.get(MEMBERS).get_json()["results"]}
    assert owner_api.delete(MEMBERS + members[tenant.manager.email]["id"] + "/").status_code == 204

    assert manager_client.get("/").status_code == 302  # back to sign-in
    assert manager_token.get("/api/reports/automation/schedules/").status_code == 401
    assert owner_api.get(MEMBERS).get_json()["count"] == 1
    assert "members.remove" in _actions(tenant.business)


def test_another_business_member_is_404(owner_api, other_tenant):
    foreign = db.session.scalar(select(Membership).where(Membership.business_id == other_tenant.business.id))
    for call in (owner_api.get, owner_api.delete):
        assert call(MEMBERS + str(foreign.id) + "/").status_code == 404
    assert owner_api.patch(MEMBERS + str(foreign.id) + "/", json={"role": "owner"}).status_code == 404
    assert owner_api.get(MEMBERS + "not-a-uuid/").status_code == 404


def test_tokens_create_shown_once_list_revoke(app, owner_api, tenant, other_api):
    created = owner_api.post(TOKENS, json={"name": "Accounting sync"})
    assert created.status_code == 201
    body = created.get_json()
    token = body["token"]
    assert token.startswith("ea_") and body["name"] == "Accounting sync" and body["status"] == "active"
    listed = owner_api.get(TOKENS).get_json()["results"]
    entry = next(t for t in listed if t["id"] == body["id"])
    assert "token" not in entry and entry["prefix"] == token[:10]
    script = ApiClient(app.test_client(), {"Authorization": f"Bearer {token}"})
    assert script.get("/api/reports/automation/schedules/").status_code == 200

    assert other_api.delete(TOKENS + body["id"] + "/").status_code == 404  # another business's
    assert owner_api.delete(TOKENS + body["id"] + "/").status_code == 204
    assert script.get("/api/reports/automation/schedules/").status_code == 401
    assert owner_api.delete(TOKENS + body["id"] + "/").status_code == 409
    assert all(t["id"] != body["id"] for t in owner_api.get(TOKENS).get_json()["results"])
    assert {"tokens.create", "tokens.revoke"} <= set(_actions(tenant.business))


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "a\nb"}, {"name": "ok", "scope": "all"}]
)
def test_bad_token_bodies_are_400(owner_api, body):
    assert owner_api.post(TOKENS, json=body).status_code == 400


def test_change_password_needs_the_current_one_and_ends_other_sessions(app, client, auth, tenant):
    other_browser = app.test_client()
    assert (
        other_browser.post("/login", data={"email": tenant.manager.email, "password": PASSWORD}).status_code
        == 302
    )
    assert auth.login(tenant.manager.email).status_code == 302
    csrf = {}  # CSRF is off in TestConfig; the session is what authenticates here
    wrong = client.post(
        "/api/me/password",
        json={"current_password": "nope", "new_password": "another-password"},
        headers=csrf,
    )
    assert wrong.status_code == 400 and "current_password" in wrong.get_json()["errors"]
    weak = client.post("/api/me/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 400 and "new_password" in weak.get_json()["errors"]
    ok = client.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": "another-password"}
    )
    assert ok.status_code == 204
    assert client.get("/api/me/").status_code == 200  # this session stays
    assert other_browser.get("/api/me/").status_code == 401  # the other one ended
    db.session.expire_all()
    assert db.session.get(User, tenant.manager.id).check_password("another-password")
    assert "account.password" in _actions(tenant.business)


def test_sign_out_everywhere(app, client, auth, tenant):
    other_browser = app.test_client()
    assert (
        other_browser.post("/login", data={"email": tenant.owner.email, "password": PASSWORD}).status_code
        == 302
    )
    assert auth.login(tenant.owner.email).status_code == 302
    assert client.post("/api/me/sign-out-everywhere/").status_code == 204
    assert client.get("/api/me/").status_code == 401
    assert other_browser.get("/api/me/").status_code == 401


def test_expired_and_withdrawn_invitations(app, owner_api, client, tenant):
    member = owner_api.post(MEMBERS, json={"email": "slow@example.com"}).get_json()
    membership = db.session.get(Membership, __import__("uuid").UUID(member["id"]))
    old = invitations.make_token(membership, issued_at=datetime.now(UTC) - timedelta(days=8))
    assert client.get(f"/join/{old}").status_code == 410
    fresh = invitations.make_token(membership)
    assert client.get(f"/join/{fresh}").status_code == 200
    assert owner_api.delete(MEMBERS + member["id"] + "/").status_code == 204
    assert client.get(f"/join/{fresh}").status_code == 404
    assert client.get("/join/garbage").status_code == 404


def test_guessing_the_current_password_is_throttled_like_sign_in(app_factory):
    application = app_factory(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per 5 minutes")
    with application.app_context():
        from tests.conftest import Factory

        factory = Factory(application)
        business = factory.business("Throttle Shop")
        user = factory.user(business, email="guess@example.com")
        client = application.test_client()
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        wrong = {"current_password": "guess", "new_password": "another-password"}
        assert [client.post("/api/me/password", json=wrong).status_code for _ in range(3)] == [400] * 3
        refused = client.post("/api/me/password", json={**wrong, "current_password": PASSWORD})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert refused.is_json
        db.session.expire_all()
        assert db.session.get(User, user.id).check_password(PASSWORD)  # unchanged
