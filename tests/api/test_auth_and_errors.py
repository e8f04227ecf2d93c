"""Authentication (session + CSRF, Bearer tokens), JSON errors for every failure on /api/ paths, the
body limit, the rate limit, and paths with or without their trailing slash."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dashboard.auth.tokens import create_token, revoke_tokens
from dashboard.extensions import db
from dashboard.models import ExportSchedule
from dashboard.models.types import utcnow
from tests.api.conftest import BASE, ApiClient, bearer, make_schedule
from tests.conftest import AuthActions, Factory

SCHEDULES = f"{BASE}/schedules/"
BODY = {
    "name": "Weekly stock",
    "export_type": "INVENTORY",
    "format": "csv",
    "frequency": "WEEKLY",
    "hour": 7,
    "day_of_week": 0,
    "filters": {},
}


def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


# --------------------------------------------------------------------------------------------
# 401


def test_no_credentials_is_401_json(anon_api):
    response = anon_api.get(SCHEDULES)
    assert response.status_code == 401
    assert response.is_json and "detail" in response.get_json()
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ea_not-a-real-token",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_bad_authorization_header_is_401(anon_api, header):
    response = anon_api.get(SCHEDULES, headers={"Authorization": header})
    assert response.status_code == 401 and response.is_json


def test_revoked_token_is_401_even_with_a_signed_in_session(app, client, tenant, schedule):
    headers = bearer(tenant.owner, tenant.business)
    api = ApiClient(client, headers)
    assert api.get(SCHEDULES).status_code == 200
    revoke_tokens(tenant.owner)
    AuthActions(client).login(tenant.owner.email)
    assert client.get(SCHEDULES).status_code == 200  # the session alone works...
    response = api.get(SCHEDULES)  # ...but a revoked token is never replaced by it
    assert response.status_code == 401
    assert "revoked" in response.get_json()["detail"]
    assert api.post(f"{SCHEDULES}{schedule.id}/deactivate/").status_code == 401


def test_expired_token_is_401(app, client, tenant):
    membership = tenant.owner.memberships[0]
    token = create_token(membership, expires_at=utcnow() - timedelta(minutes=1))
    response = client.get(SCHEDULES, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_token_of_a_removed_member_is_401(app, client, tenant):
    headers = bearer(tenant.manager, tenant.business)
    tenant.manager.memberships[0].is_active = False
    db.session.commit()
    assert client.get(SCHEDULES, headers=headers).status_code == 401


def test_token_acts_in_its_own_business(app, client, factory, tenant, other_tenant):
    # One person in two businesses: each token sees only its business.
    factory.member(tenant.owner, other_tenant.business, role="manager")
    mine = make_schedule(tenant.business, tenant.owner, name="Mine")
    theirs = make_schedule(other_tenant.business, other_tenant.owner, name="Theirs")
    membership = next(m for m in tenant.owner.memberships if m.business_id == other_tenant.business.id)
    headers = {"Authorization": f"Bearer {create_token(membership)}"}
    names = [s["name"] for s in client.get(SCHEDULES, headers=headers).get_json()["results"]]
    assert names == ["Theirs"]
    assert client.get(f"{SCHEDULES}{mine.id}/", headers=headers).status_code == 404
    assert client.get(f"{SCHEDULES}{theirs.id}/", headers=headers).status_code == 200


# --------------------------------------------------------------------------------------------
# Session + CSRF


@pytest.fixture
def csrf_app(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        factory = Factory(app)
        business = factory.business("Csrf Shop")
        owner = factory.user(business, role="owner", email="owner@csrf.example.com")
        bearer_headers = bearer(owner, business)
        schedule_id = make_schedule(business, owner).id
        email = owner.email
        db.session.remove()
    return app, email, bearer_headers, schedule_id


def _signed_in(app, email):
    client = app.test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": "correct-horse-battery", "csrf_token": token}
    )
    assert response.status_code == 302
    return client, _csrf_token(client.get("/").get_data(as_text=True))


def test_session_reads_need_no_csrf(csrf_app):
    app, email, _, _ = csrf_app
    client, _ = _signed_in(app, email)
    assert client.get(SCHEDULES).status_code == 200


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", SCHEDULES, BODY),
        ("PATCH", "{schedule}", {"name": "Renamed"}),
        ("PUT", "{schedule}", BODY),
        ("DELETE", "{schedule}", None),
        ("POST", "{schedule}deactivate/", None),
        ("POST", "{schedule}trigger/", None),
        ("PUT", f"{BASE}/notifications/", {"from_name": "X"}),
        ("POST", "/api/reports/exports/", {"export_type": "INVENTORY", "format": "csv"}),
    ],
)
def test_session_unsafe_requests_need_the_csrf_header(csrf_app, method, path, body):
    app, email, _, schedule_id = csrf_app
    client, token = _signed_in(app, email)
    url = path.format(schedule=f"{SCHEDULES}{schedule_id}/")
    refused = client.open(url, method=method, json=body)
    assert refused.status_code == 403
    assert "CSRF" in refused.get_json()["detail"]
    wrong = client.open(url, method=method, json=body, headers={"X-CSRFToken": "forged"})
    assert wrong.status_code == 403
    with app.app_context():
        schedule = db.session.get(ExportSchedule, schedule_id)
        assert schedule is not None and schedule.name == "Daily sales" and schedule.is_active
        assert db.session.scalar(select(func.count()).select_from(ExportSchedule)) == 1
    accepted = client.open(url, method=method, json=body, headers={"X-CSRFToken": token})
    assert accepted.status_code in (200, 201, 202, 204), accepted.get_json()


def test_bearer_requests_need_no_csrf(csrf_app):
    app, _, headers, schedule_id = csrf_app
    client = app.test_client()
    assert client.post(SCHEDULES, json=BODY, headers=headers).status_code == 201
    assert client.post(f"{SCHEDULES}{schedule_id}/deactivate/", headers=headers).status_code == 200


def test_signed_in_without_a_business_is_403(app, client, factory):
    user = factory.user(None, email="loner@example.com")
    business = factory.business("Gone Shop")
    membership = factory.member(user, business, role="owner")
    AuthActions(client).login(user.email)
    membership.is_active = False
    db.session.commit()
    response = client.get(SCHEDULES)
    assert response.status_code in (401, 403) and response.is_json


# --------------------------------------------------------------------------------------------
# JSON errors


def test_unknown_api_paths_are_json_404(owner_api):
    for path in (f"{BASE}/nothing/", f"{BASE}/schedules/not-a-uuid/", "/api/", "/api/reports/automation/"):
        response = owner_api.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}, path


def test_wrong_method_is_json_405_with_allow(owner_api, schedule):
    response = owner_api.post(f"{SCHEDULES}{schedule.id}/")
    assert response.status_code == 405 and response.is_json
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "PUT", "PATCH", "DELETE"} <= allowed and "POST" not in allowed
    response = owner_api.get(f"{SCHEDULES}{schedule.id}/trigger/")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    response = owner_api.delete(f"{BASE}/history/statistics/")
    assert response.status_code == 405 and response.is_json


def test_a_body_over_the_limit_is_413(app_factory):
    app = app_factory(API_MAX_BODY_KB=1)
    with app.app_context():
        factory = Factory(app)
        business = factory.business()
        owner = factory.user(business)
        api = ApiClient(app.test_client(), bearer(owner, business))
        big = {**BODY, "email_message": "x" * 2000}
        response = api.post(SCHEDULES, json=big)
        assert response.status_code == 413 and "detail" in response.get_json()
        assert api.post(SCHEDULES, json=BODY).status_code == 201
        # A body without Content-Length (chunked) is cut off as it is read.
        response = api.client.post(
            SCHEDULES,
            input_stream=io.BytesIO(b'{"name": "' + b"x" * 4096 + b'"}'),
            headers={**api.headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert response.status_code == 413 and response.is_json, response.get_json()
        assert db.session.scalar(select(func.count()).select_from(ExportSchedule)) == 1


def test_unexpected_errors_are_json_500_without_a_trace(owner_api, monkeypatch):
    from dashboard.api import schedules as api_schedules

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api_schedules.service, "upcoming_schedules", broken)
    response = owner_api.get(f"{SCHEDULES}upcoming/")
    assert response.status_code == 500
    assert response.is_json and "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_rate_limit_per_token_answers_429_json(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    with app.app_context():
        factory = Factory(app)
        business = factory.business()
        first = ApiClient(app.test_client(), bearer(factory.user(business), business))
        second = ApiClient(app.test_client(), bearer(factory.user(business), business))
        statuses = [first.get(SCHEDULES).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        # The bucket is the API's, not one endpoint's.
        response = first.get(f"{BASE}/history/")
        assert response.status_code == 429
        assert response.is_json and "Too many requests" in response.get_json()["detail"]
        assert int(response.headers["Retry-After"]) > 0
        assert second.get(SCHEDULES).status_code == 200  # another token has its own bucket


# --------------------------------------------------------------------------------------------
# Trailing slashes


def test_paths_work_without_their_trailing_slash(owner_api, schedule, tenant):
    from tests.api.conftest import make_history

    run = make_history(tenant.business, tenant.owner)
    for path in (
        f"{BASE}/schedules",
        f"{BASE}/schedules/upcoming",
        f"{BASE}/schedules/overdue",
        f"{BASE}/schedules/{schedule.id}",
        f"{BASE}/history",
        f"{BASE}/history/recent",
        f"{BASE}/history/statistics",
        f"{BASE}/history/{run.id}",
        f"{BASE}/notifications",
    ):
        response = owner_api.get(path)
        assert response.status_code == 200, path
    assert owner_api.post(f"{BASE}/schedules/{schedule.id}/deactivate").status_code == 200
    assert owner_api.post(f"{BASE}/schedules", json=BODY).status_code == 201
    assert (
        owner_api.post(f"{BASE}/schedules/preview", json={"frequency": "DAILY", "hour": 1}).status_code == 200
    )
