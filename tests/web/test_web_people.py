"""The People page (owners) and the account page (everyone), through the test client."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models.pos import ApiToken, Membership, User
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}


def _membership(user, business) -> Membership:
    return db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.business_id == business.id)
    )


def test_owners_see_people_and_managers_get_403(owner, tenant, app, auth):
    page = owner.get("/people/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert tenant.manager.email in html and "Invite someone" in html and "API tokens" in html
    assert 'href="/people/"' in html  # the navigation offers it to owners
    manager = app.test_client()
    manager.post("/login", data={"email": tenant.manager.email, "password": PASSWORD})
    assert manager.get("/people/").status_code == 403
    assert 'href="/people/"' not in manager.get("/").get_data(as_text=True)


def test_invite_by_form_shows_the_invited_row(owner, tenant):
    response = owner.post("/people/members", data={"email": "new@example.com", "role": "manager"}, headers=HX)
    assert response.status_code == 200
    assert "new@example.com" in response.get_data(as_text=True) and "Invited" in response.get_data(
        as_text=True
    )
    assert "Invitation sent to new@example.com" in response.headers["HX-Trigger"]


def test_a_bad_invitation_keeps_what_was_typed(owner):
    response = owner.post("/people/members", data={"email": "nope", "role": "manager"}, headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="nope"' in html and 'aria-invalid="true"' in html


def test_change_role_and_the_last_owner_refusal(owner, tenant):
    manager_id = _membership(tenant.manager, tenant.business).id
    owner_id = _membership(tenant.owner, tenant.business).id
    refused = owner.post(f"/people/members/{owner_id}/role", data={"role": "manager"}, headers=HX)
    assert refused.status_code == 200 and "at least one owner" in refused.headers["HX-Trigger"]
    done = owner.post(f"/people/members/{manager_id}/role", data={"role": "owner"}, headers=HX)
    assert "is now owner" in done.headers["HX-Trigger"]
    db.session.expire_all()
    assert _membership(tenant.manager, tenant.business).role == "owner"


def test_remove_a_member_without_javascript(owner, tenant):
    manager_id = _membership(tenant.manager, tenant.business).id
    response = owner.post(f"/people/members/{manager_id}/remove")
    assert response.status_code == 303 and response.headers["Location"].endswith("/people/")
    html = owner.get("/people/").get_data(as_text=True)
    assert "was removed" in html  # the toast
    assert f'id="member-{manager_id}"' not in html


def test_another_business_member_is_404(owner, other_tenant):
    foreign = _membership(other_tenant.owner, other_tenant.business).id
    assert owner.post(f"/people/members/{foreign}/remove", headers=HX).status_code == 404
    assert owner.post("/people/tokens/not-an-id/revoke", headers=HX).status_code == 404


def test_create_token_shows_it_once_then_revoke(owner, tenant):
    created = owner.post("/people/tokens", data={"name": "Till sync"}, headers=HX)
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "Till sync"))
    assert token is not None and "shown only this once" in html and f'value="{token.prefix}' in html
    again = owner.get("/people/").get_data(as_text=True)
    assert "Till sync" in again and "shown only this once" not in again
    revoked = owner.post(f"/people/tokens/{token.id}/revoke", headers=HX)
    assert "revoked" in revoked.headers["HX-Trigger"]
    assert "Till sync" not in revoked.get_data(as_text=True)


def test_empty_token_name_is_refused(owner):
    response = owner.post("/people/tokens", data={"name": "  "}, headers=HX)
    assert response.status_code == 422 and "Name the token" in response.get_data(as_text=True)


def test_change_password_page(app, client, auth, tenant):
    other = app.test_client()
    other.post("/login", data={"email": tenant.manager.email, "password": PASSWORD})
    auth.login(tenant.manager.email)
    assert client.get("/account").status_code == 200
    wrong = client.post(
        "/account/password",
        data={
            "current_password": "x",
            "new_password": "new-password-1",
            "new_password_confirm": "new-password-1",
        },
    )
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    differ = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "new-password-1",
            "new_password_confirm": "other-1234",
        },
    )
    assert differ.status_code == 422
    ok = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "new-password-1",
            "new_password_confirm": "new-password-1",
        },
    )
    assert ok.status_code == 303
    assert client.get("/account").status_code == 200  # still signed in here
    assert other.get("/account").status_code == 302  # signed out there
    db.session.expire_all()
    assert db.session.get(User, tenant.manager.id).check_password("new-password-1")


def test_sign_out_everywhere_page(app, client, auth, tenant):
    other = app.test_client()
    other.post("/login", data={"email": tenant.owner.email, "password": PASSWORD})
    auth.login(tenant.owner.email)
    response = client.post("/account/sign-out-everywhere")
    assert response.status_code == 303 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302 and other.get("/").status_code == 302


def test_the_header_names_the_person_once(owner, tenant):
    html = owner.get("/").get_data(as_text=True)
    assert f">{tenant.owner.display_name}</a>" in html
    assert f"{tenant.owner.display_name} · owner" not in html
