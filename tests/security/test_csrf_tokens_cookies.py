"""CSRF on every unsafe request, no GET that changes anything, API tokens that can be revoked and
act in one business only, and the cookie flags of the session and of "keep me signed in".

The routes come from the URL map, so a new form or endpoint is covered the day it is added.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dashboard.extensions import db
from dashboard.models import ApiToken
from tests.conftest import Factory
from tests.security.security_helpers import (
    HX,
    MEASURED,
    PASSWORD,
    bearer,
    build_world,
    db_snapshot,
    login,
    schedule_payload,
    snapshot_diff,
)
from tests.security.test_isolation_table import (
    API_BODIES,
    HISTORY_ID,
    PRESET_ID,
    PUBLIC,
    ROUTES,
    SCHEDULE_ID,
    SIGNED_LINK,
    UNSUBSCRIBE_LINK,
    WEB_FORMS,
    _url,
)

ROOT = Path(__file__).resolve().parents[2]
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
CSRF_MESSAGE = "security token"  # dashboard/errors.py: the page a CSRF failure shows
API_CSRF_MESSAGE = "CSRF token is missing or invalid"  # dashboard/api/common.py
# The one web view without CSRF: RFC 8058's one-click unsubscribe, which mail clients POST with no
# session and no token (the signed token in the URL is the credential; issue 19).
CSRF_EXEMPT_VIEWS = {"unsubscribe.remove": "dashboard.web.unsubscribe.remove"}
# They remove the schedule the other cases use: run them last.
REMOVES = {"schedules.delete", "api_schedules.delete"}


def _csrf_token(client) -> str:
    """The token a page hands to htmx (`hx-headers` on <body>)."""
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert match, "the page carries no CSRF token for htmx"
    return match.group(1)


def _login_with_csrf(client, email: str, password: str = PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', page
    )
    assert token, "the sign-in form has no CSRF field"
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )
    assert response.status_code == 302
    return client


def _unsafe_rules(app, api: bool):
    rules = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") == api and rule.endpoint not in CSRF_EXEMPT_VIEWS
        for method in sorted(ROUTES[rule.endpoint].methods & set(UNSAFE))
    ]
    return sorted(
        rules,
        key=lambda item: (
            item[0].endpoint in ENDS_SESSIONS,
            item[0].endpoint in REMOVES,
            item[0].rule,
            item[1],
        ),
    )


# They end the session that makes the other requests: run last, and only by token.
ENDS_SESSIONS = {"api_me.sign_out_everywhere", "api_me.change_password"}


def _target(world, rule) -> str | None:
    from dashboard.services.invitations import make_token
    from tests.security.test_isolation_table import INVITE_LINK, MEMBER_ID, TOKEN_ID, _targets

    access = ROUTES[rule.endpoint].access
    if access == SCHEDULE_ID:
        return str(world.a.schedule.id)
    if access == HISTORY_ID:
        return str(world.a.run.id)
    if access == PRESET_ID:
        return str(world.a.preset.id)
    if access in (MEMBER_ID, TOKEN_ID, INVITE_LINK):
        if not hasattr(world, "people_targets"):
            world.people_targets = _targets(world)
        target = world.people_targets[access]
        return make_token(target) if access == INVITE_LINK else str(target)
    return None


def _web_form(rule) -> dict:
    return dict(WEB_FORMS.get(rule.endpoint, {}))


def _is_csrf_refusal(response) -> bool:
    return response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True)


def test_every_unsafe_web_request_needs_the_csrf_token(csrf_app):
    world = build_world(csrf_app, Factory(csrf_app))
    client = _login_with_csrf(csrf_app.test_client(), world.a.owner.email)
    token = _csrf_token(client)
    rules = _unsafe_rules(csrf_app, api=False)
    assert len(rules) >= 10  # the forms and buttons of the pages
    refused = 0
    for rule, method in rules:
        url = _url(rule, _target(world, rule))
        for headers in ({}, HX, {**HX, "X-CSRFToken": "forged-" + token[7:]}):
            before = db_snapshot()
            response = client.open(url, method=method, data=_web_form(rule), headers=headers)
            assert _is_csrf_refusal(response), (method, url, headers, response.status_code)
            assert not snapshot_diff(before, db_snapshot()), (method, url, headers)
            refused += 1
    # The same requests with the token, as the pages send it (htmx: header; forms: field), pass it.
    for rule, method in rules:
        if rule.endpoint in ("auth.logout", "account.sign_out_everywhere"):
            continue  # would end the session the other requests use; checked below
        url = _url(rule, _target(world, rule))
        response = client.open(url, method=method, data=_web_form(rule), headers={**HX, "X-CSRFToken": token})
        assert not _is_csrf_refusal(response), (method, url)
        assert response.status_code < 500
    form = {**WEB_FORMS["schedules.preview"], "csrf_token": token}
    assert not _is_csrf_refusal(client.post("/schedules/preview", data=form))
    assert not _is_csrf_refusal(client.post("/logout", data={"csrf_token": token}))
    print(f"\n[security] CSRF: {refused} unsafe web requests without a valid token refused")
    MEASURED.setdefault("csrf", {})["web requests refused"] = refused


def test_session_api_calls_need_the_csrf_header_and_token_calls_do_not(csrf_app):
    world = build_world(csrf_app, Factory(csrf_app))
    session_client = _login_with_csrf(csrf_app.test_client(), world.a.owner.email)
    token = _csrf_token(session_client)
    bearer_client = csrf_app.test_client()
    rules = _unsafe_rules(csrf_app, api=True)
    assert len(rules) >= 10
    for rule, method in rules:
        url = _url(rule, _target(world, rule))
        body = API_BODIES.get((rule.endpoint, method), {} if method != "DELETE" else None)
        before = db_snapshot()
        response = session_client.open(url, method=method, json=body)
        assert response.status_code == 403 and API_CSRF_MESSAGE in response.get_json()["detail"], (
            method,
            url,
        )
        response = session_client.open(url, method=method, json=body, headers={"X-CSRFToken": "x" + token})
        assert response.status_code == 403, (method, url)
        assert not snapshot_diff(before, db_snapshot()), (method, url)
    print(f"\n[security] CSRF: {2 * len(rules)} session API requests without a valid X-CSRFToken refused")
    MEASURED.setdefault("csrf", {})["session API requests refused"] = 2 * len(rules)
    for rule, method in rules:
        url = _url(rule, _target(world, rule))
        body = API_BODIES.get((rule.endpoint, method), {} if method != "DELETE" else None)
        if rule.endpoint in ENDS_SESSIONS:
            # by token only (the session would end); a wrong current password is a 400, not a refusal
            response = bearer_client.open(
                url, method=method, json=body, headers=bearer(world.a.tokens["owner"])
            )
            assert response.status_code in (204, 400), (method, url, response.get_json())
            continue
        if rule.endpoint in REMOVES:
            # the session deletes the schedule; the token deletes the other business's own copy below
            response = bearer_client.open(
                _url(rule, str(world.b.schedule.id)), method=method, headers=bearer(world.b.tokens["owner"])
            )
            assert response.status_code == 204
        else:
            response = bearer_client.open(
                url, method=method, json=body, headers=bearer(world.a.tokens["owner"])
            )
            assert response.status_code not in (400, 401, 403) and response.status_code < 500, (
                method,
                url,
                response.get_json(),
            )
        response = session_client.open(url, method=method, json=body, headers={"X-CSRFToken": token})
        assert response.status_code not in (401, 403) and response.status_code < 500, (method, url)


def test_the_only_csrf_exemptions_are_the_api_blueprints_which_check_it_themselves(app):
    from dashboard.api.common import _before_api_request
    from dashboard.extensions import csrf

    exempt = {bp.name for bp in csrf._exempt_blueprints}
    api_blueprints = {
        name
        for name, bp in app.blueprints.items()
        if any(
            rule.endpoint.startswith(name + ".") and rule.rule.startswith("/api/")
            for rule in app.url_map.iter_rules()
        )
    }
    assert exempt <= api_blueprints, f"CSRF is switched off outside the API: {exempt - api_blueprints}"
    assert set(csrf._exempt_views) == set(CSRF_EXEMPT_VIEWS.values()), (
        f"views exempt from CSRF: {csrf._exempt_views}"
    )
    for name in exempt:
        hooks = app.before_request_funcs.get(name, [])
        if any(
            ROUTES[r.endpoint].access != PUBLIC
            for r in app.url_map.iter_rules()
            if r.endpoint.startswith(name + ".")
        ):
            assert _before_api_request in hooks, f"{name} is exempt from CSRF but does not check it"


# --------------------------------------------------------------------------------------------
# No GET changes anything


def _allowed(endpoint: str, diff: dict, world) -> bool:
    """The two documented changes a GET may make."""
    if endpoint in ("history.download", "api_history.download", "downloads.file"):
        # Every download is audited (CONTRACT section 2): exactly one new audit entry, nothing else.
        added = diff.get("audit_logs", {}).get("added", [])
        return (
            set(diff) == {"audit_logs"}
            and len(added) == 1
            and not diff["audit_logs"]["removed"]
            and "'export.download'" in added[0]
        )
    if endpoint in ("settings.notifications", "api_notifications.get_settings"):
        # The settings row is created with its defaults the first time anyone reads it.
        table = diff.get("export_notification_settings", {})
        return (
            set(diff) == {"export_notification_settings"}
            and len(table.get("added", [])) == 1
            and not table["removed"]
        )
    return False


def test_no_get_changes_anything(app, world):
    from dashboard.delivery.unsubscribe_links import make_token as make_unsubscribe_token
    from dashboard.storage.links import make_download_token

    a = world.a
    owner = login(app.test_client(), a.owner.email)
    token_client = app.test_client()
    anonymous = app.test_client()
    values = {
        SCHEDULE_ID: str(a.schedule.id),
        HISTORY_ID: str(a.run.id),
        PRESET_ID: str(a.preset.id),
        SIGNED_LINK: make_download_token(a.run),
        UNSUBSCRIBE_LINK: make_unsubscribe_token(a.schedule.id, a.schedule.recipients[0]),
    }
    walked = 0
    allowed_changes = []
    app.config["OPS_TOKEN"] = "ops-token-for-the-get-walk"
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods:
            continue
        access = ROUTES[rule.endpoint].access
        if rule.endpoint == "static":
            url = "/static/css/app.css"
        else:
            url = _url(rule, values.get(access) or _target(world, rule))
        if rule.endpoint == "metrics.metrics":
            operator = {"Authorization": "Bearer ops-token-for-the-get-walk"}
            callers = [(anonymous, operator), (owner, operator)]
        elif rule.rule.startswith("/api/"):
            callers = [(token_client, bearer(a.tokens["owner"])), (owner, {})]
        elif access in (PUBLIC, SIGNED_LINK, UNSUBSCRIBE_LINK):
            callers = [(anonymous, {}), (owner, {})]
        else:
            callers = [(owner, {}), (owner, HX)]
        for client, headers in callers:
            before = db_snapshot()
            response = client.get(url, headers=headers)
            assert response.status_code < 400, (url, response.status_code)
            diff = snapshot_diff(before, db_snapshot())
            if diff:
                assert _allowed(rule.endpoint, diff, world), f"GET {url} changed the database: {diff}"
                allowed_changes.append(rule.endpoint)
            walked += 1
    # Each GET route of the map walked (twice: two kinds of caller), with real ids: all answered.
    assert walked == 2 * sum(1 for r in app.url_map.iter_rules() if "GET" in r.methods)
    print(
        f"\n[security] GET walk: {walked} requests, changes only where documented: {sorted(set(allowed_changes))}"
    )
    MEASURED["GET walk"] = {"requests": walked, "documented changes": sorted(set(allowed_changes))}


# --------------------------------------------------------------------------------------------
# API tokens


def _api(client, path: str, token: str, method: str = "GET", **kwargs):
    return client.open(f"/api/reports/automation{path}", method=method, headers=bearer(token), **kwargs)


def test_tokens_are_revoked_by_the_cli_and_only_the_users(app, world):
    client = app.test_client()
    a, b = world.a, world.b
    assert _api(client, "/schedules/", a.tokens["owner"]).status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "revoke-tokens", a.owner.email])
    assert result.exit_code == 0, result.output
    response = _api(client, "/schedules/", a.tokens["owner"])
    assert response.status_code == 401 and response.is_json
    assert _api(client, f"/schedules/{a.schedule.id}/", a.tokens["owner"], "DELETE").status_code == 401
    # Other users' tokens keep working.
    assert _api(client, "/schedules/", a.tokens["manager"]).status_code == 200
    assert _api(client, "/schedules/", b.tokens["owner"]).status_code == 200
    # A new token after the revocation works.
    fresh = app.test_cli_runner().invoke(args=["users", "token", a.owner.email])
    assert fresh.exit_code == 0
    assert _api(client, "/schedules/", fresh.output.strip()).status_code == 200


def test_a_token_acts_in_its_own_business_only(app, world, factory):
    from dashboard.auth.tokens import create_token

    a, b = world.a, world.b
    # One person in both businesses: owner of A, manager of B, with a token for B.
    membership_b = factory.member(a.owner, b.business, role="manager")
    token_b = create_token(membership_b)
    client = app.test_client()
    assert _api(client, f"/schedules/{a.schedule.id}/", token_b).status_code == 404
    assert _api(client, f"/history/{a.run.id}/download/", token_b).status_code == 404
    listed = _api(client, "/schedules/", token_b).get_json()
    assert [s["id"] for s in listed["results"]] == [str(b.schedule.id)]
    # B's manager may not read owner-only endpoints though the same person owns A.
    assert _api(client, "/notifications/", token_b).status_code == 403
    # A schedule created with that token belongs to B.
    created = _api(client, "/schedules/", token_b, "POST", json=schedule_payload(name="Made with B's token"))
    assert created.status_code == 201
    assert _api(client, f"/schedules/{created.get_json()['id']}/", a.tokens["owner"]).status_code == 404


def test_expired_disabled_and_malformed_tokens_are_refused(app, world, factory):
    from dashboard.auth.tokens import create_token

    a = world.a
    client = app.test_client()
    membership = next(m for m in a.manager.memberships if m.business_id == a.business.id)
    expired = create_token(membership, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    cases = {
        "expired": expired,
        "truncated": a.tokens["owner"][:-1],
        "altered": a.tokens["owner"][:-1] + ("A" if a.tokens["owner"][-1] != "A" else "B"),
        "very long": "ea_" + "x" * 5000,
        "empty": "",
    }
    for name, token in cases.items():
        response = client.get(
            "/api/reports/automation/schedules/", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401 and response.is_json, name
    # A valid session does not rescue a bad token (a script never acts as whoever is signed in).
    session_client = login(app.test_client(), a.owner.email)
    response = session_client.get("/api/reports/automation/schedules/", headers=bearer("ea_bogus"))
    assert response.status_code == 401
    # A membership switched off takes its tokens with it.
    membership.is_active = False
    db.session.commit()
    assert _api(client, "/schedules/", a.tokens["manager"]).status_code == 401


def test_tokens_are_stored_hashed(app, world):
    stored = db.session.scalars(db.select(ApiToken)).all()
    assert stored
    dump = json.dumps(db_snapshot(), default=str)
    for token in (*world.a.tokens.values(), *world.b.tokens.values()):
        assert token not in dump
    assert all(len(t.token_hash) == 64 for t in stored)


# --------------------------------------------------------------------------------------------
# Cookies

_COOKIE_SCRIPT = textwrap.dedent(
    """
    import json
    from config import ProductionConfig
    from dashboard import create_app
    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User

    app = create_app(ProductionConfig, WTF_CSRF_ENABLED=False, SCHEDULER_ENABLED=False)
    with app.app_context():
        db.create_all()
        business = Business(name="Cookie Shop", timezone="UTC")
        user = User(email="cookie@example.com", name="Cookie")
        user.set_password("pw-123456789")
        db.session.add_all([business, user, Membership(user=user, business=business, role="owner")])
        db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"email": "cookie@example.com", "password": "pw-123456789", "remember": "y"})
    print(json.dumps({"status": response.status_code, "cookies": response.headers.getlist("Set-Cookie")}))
    """
)


def _production_cookies(tmp_path: Path, base_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 64,
        "BASE_URL": base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cookies.sqlite3'}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "EXPORT_ROOT": str(tmp_path / "exports"),
        "SCHEDULER_ENABLED": "0",
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("TEST_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", _COOKIE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["status"] == 302
    return {cookie.split("=", 1)[0]: cookie for cookie in data["cookies"]}


@pytest.mark.nodb
@pytest.mark.slow
@pytest.mark.parametrize(
    "base_url, secure", [("https://exports.example.com", True), ("http://127.0.0.1:5000", False)]
)
def test_session_and_remember_cookies_carry_the_production_flags(tmp_path, base_url, secure):
    cookies = _production_cookies(tmp_path, base_url)
    assert {"session", "remember_token"} <= set(cookies), cookies
    for name in ("session", "remember_token"):
        flags = {part.strip().lower() for part in cookies[name].split(";")[1:]}
        assert "httponly" in flags, cookies[name]
        assert "samesite=lax" in flags, cookies[name]
        assert ("secure" in flags) == secure, cookies[name]


def test_security_headers_on_pages_api_and_errors(app, world):
    owner = login(app.test_client(), world.a.owner.email)
    for url in (
        "/",
        "/login",
        "/api/reports/automation/schedules/",
        f"/history/{world.a.run.id}/download",
        "/nope",
    ):
        response = owner.get(url)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["X-Frame-Options"] == "DENY", url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], url
        assert "script-src 'self'" in headers["Content-Security-Policy"], url
    # A tenant's file is never kept by a shared cache.
    response = owner.get(f"/api/reports/automation/history/{world.a.run.id}/download/")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


OPEN_REDIRECTS = (
    "//evil.example.com",
    "https://evil.example.com/",
    "/\\evil.example.com",
    "\\\\evil.example.com",
    "/\t/evil.example.com",
    "/%2F/evil.example.com",
    "javascript:alert(1)",
    "http:/evil.example.com",
    " //evil.example.com",
)


def test_sign_in_never_redirects_off_site(app, world):
    for target in OPEN_REDIRECTS:
        client = app.test_client()
        response = client.post(
            "/login", query_string={"next": target}, data={"email": world.a.owner.email, "password": PASSWORD}
        )
        assert response.status_code == 302, target
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (target, location)
        assert urlsplit(location).netloc in ("", "localhost"), (
            target,
            location,
        )  # "/%2F/..." is a local path
