"""Abuse: guessing passwords, hammering the API, mailing half the internet, oversized bodies, and
reading the server's insides from its error pages.

The throttles are tested the way production runs them: two app instances (two gunicorn workers, or
two hosts) counting in the same Redis, so a limit holds whichever worker answers.
"""

from __future__ import annotations

import io
import statistics
import time
import uuid
from pathlib import Path

import pytest

from dashboard.extensions import db
from tests.conftest import TEST_DATABASE_URL, Factory
from tests.security.security_helpers import (
    PASSWORD,
    answer_diff,
    bearer,
    build_world,
    db_snapshot,
    login,
    normalized,
    schedule_form,
    snapshot_diff,
)

REDIS_URL = "redis://127.0.0.1:6379/13"
LEAKS = (
    "Traceback",
    "sqlalchemy",
    "SELECT",
    "psycopg",
    "sqlite3",
    'File "/',
    "OperationalError",
    "no_such_table",
)


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")


@pytest.fixture
def two_workers(app_factory, tmp_path: Path):
    """Two app instances sharing one database and one Redis, as two workers do."""
    _redis_or_skip()
    prefix = f"sec-{uuid.uuid4().hex[:8]}"  # this test's own keys: no flush, no clash with others
    overrides = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_RATE_LIMIT": "5 per minute",
        "API_RATE_LIMIT": "6 per minute",
    }
    if not TEST_DATABASE_URL:
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first = app_factory(**overrides)
    second = app_factory(**overrides)
    with first.app_context():
        world = build_world(first, Factory(first), fast_passwords=False)  # real hashes: timing test
        emails = {"owner": world.a.owner.email, "manager": world.a.manager.email}
        tokens = {"a": world.a.tokens["owner"], "b": world.b.tokens["owner"]}
    yield first, second, emails, tokens
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)


def _attempt(app, email: str, password: str, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client.post("/login", data={"email": email, "password": password})


def _page(response, email: str) -> tuple[int, str, str]:
    """The answer with the typed address (echoed in the form) and the CSRF tokens masked."""
    return normalized(response, email)


@pytest.mark.slow
def test_login_throttle_per_account_and_address_holds_across_workers(two_workers):
    first, second, emails, _ = two_workers
    victim, attacker = emails["owner"], "10.1.0.7"
    # Five wrong passwords from one address, through both workers in turn.
    for n in range(5):
        assert _attempt((first, second)[n % 2], victim, "wrong-password", attacker).status_code == 401
    # That address is now refused for that account everywhere, even with the right password
    # (otherwise the guess that hits would be told apart).
    for app in (first, second):
        response = _attempt(app, victim, PASSWORD, attacker)
        assert response.status_code == 429, response.status_code
        assert "Traceback" not in response.get_data(as_text=True)
    # The person signs in from their own address, and others from the attacker's address
    # (issue 15: a stranger cannot lock a user out; one address does not lock out everyone).
    assert _attempt(second, victim, PASSWORD, "10.1.0.99").status_code == 302
    assert _attempt(second, emails["manager"], PASSWORD, attacker).status_code == 302
    # (Slowing down per account and per address: tests/security/test_login_throttle.py.)


@pytest.mark.slow
def test_unknown_user_and_wrong_password_answer_alike(two_workers):
    first, _, emails, _ = two_workers
    known, unknown = emails["owner"], "no-such-person@example.com"
    wrong = _attempt(first, known, "wrong-password", "10.3.0.1")
    missing = _attempt(first, unknown, "wrong-password", "10.3.0.2")
    assert _page(wrong, known) == _page(missing, unknown), answer_diff(
        _page(wrong, known), _page(missing, unknown)
    )
    assert wrong.status_code == 401
    # And in time: an unknown address is not refused measurably faster (no enumeration by timing).
    times = {known: [], unknown: []}
    for n in range(3):
        for email in (known, unknown):
            start = time.perf_counter()
            _attempt(first, email, "wrong-password", f"10.3.{n + 1}.{len(email)}")
            times[email].append(time.perf_counter() - start)
    ratio = statistics.median(times[unknown]) / statistics.median(times[known])
    assert ratio > 0.5, f"an unknown address answers {1 / ratio:.0f}x faster than a wrong password"
    # Once throttled, the 429 pages are the same too.
    for _ in range(5):
        _attempt(first, known, "bad", "10.3.7.1")
        _attempt(first, unknown, "bad", "10.3.7.2")
    assert _page(_attempt(first, known, "bad", "10.3.7.1"), known) == _page(
        _attempt(first, unknown, "bad", "10.3.7.2"), unknown
    )


@pytest.mark.slow
def test_api_rate_limit_is_per_token_and_holds_across_workers(two_workers):
    first, second, _, tokens = two_workers
    path = "/api/reports/automation/schedules/"
    clients = [first.test_client(), second.test_client()]
    for n in range(6):
        response = clients[n % 2].get(path, headers=bearer(tokens["a"]))
        assert response.status_code == 200, (n, response.status_code)
    for client in clients:
        response = client.get(path, headers=bearer(tokens["a"]))
        assert response.status_code == 429 and response.is_json
        assert response.get_json() == {"detail": "Too many requests. Please wait a moment and try again."}
        assert int(response.headers["Retry-After"]) > 0
    # Another token from the same address has its own bucket.
    assert clients[0].get(path, headers=bearer(tokens["b"])).status_code == 200


# --------------------------------------------------------------------------------------------
# Recipients


def test_recipients_are_capped_per_schedule_everywhere(app, world):
    a = world.a
    cap = app.config["MAX_RECIPIENTS"]
    at_cap = [f"person{n}@example.com" for n in range(cap)]
    over = at_cap + ["one-too-many@example.com"]
    client = app.test_client()
    headers = bearer(a.tokens["owner"])
    api = "/api/reports/automation"
    schedule = {
        "name": "Big list",
        "export_type": "INVENTORY",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 5,
    }
    from dashboard.services.notifications import get_settings

    get_settings(a.business)  # the row is created on first use, refused request or not
    before = db_snapshot()
    refused = [
        client.post(f"{api}/schedules/", json={**schedule, "recipients": over}, headers=headers),
        client.patch(f"{api}/schedules/{a.schedule.id}/", json={"recipients": over}, headers=headers),
        client.put(f"{api}/notifications/", json={"default_recipients": over}, headers=headers),
        client.post(
            f"{api}/schedules/{a.schedule.id}/trigger/", json={"override_recipients": over}, headers=headers
        ),
        client.post(
            "/api/reports/exports/",
            json={"export_type": "INVENTORY", "format": "csv", "recipients": over},
            headers=headers,
        ),
    ]
    for response in refused:
        assert response.status_code == 400, response.get_json()
        assert set(response.get_json()["errors"]) & {
            "recipients",
            "default_recipients",
            "override_recipients",
        }
    page = login(app.test_client(), a.owner.email)
    form = schedule_form(recipients=over, name="Big list")
    response = page.post("/schedules/new", data=form)
    assert response.status_code == 422 and str(cap) in response.get_data(as_text=True)
    assert not snapshot_diff(before, db_snapshot())
    # Exactly the cap is fine.
    response = client.post(f"{api}/schedules/", json={**schedule, "recipients": at_cap}, headers=headers)
    assert response.status_code == 201
    assert len(response.get_json()["recipients"]) == cap


# --------------------------------------------------------------------------------------------
# Body size


def test_api_bodies_over_the_limit_get_413_json(app, world):
    limit = app.config["API_MAX_BODY_KB"] * 1024
    client = app.test_client()
    headers = {**bearer(world.a.tokens["owner"]), "Content-Type": "application/json"}
    body = b'{"name": "' + b"x" * limit + b'"}'
    before = db_snapshot()
    for path in (
        "/api/reports/automation/schedules/",
        "/api/reports/automation/schedules/preview/",
        f"/api/reports/automation/schedules/{world.a.schedule.id}/",
        "/api/reports/exports/",
        "/api/reports/automation/notifications/",
    ):
        for method in ("POST", "PUT"):
            response = client.open(path, method=method, data=body, headers=headers)
            if response.status_code == 405:
                continue
            assert response.status_code == 413 and response.is_json, (method, path, response.status_code)
            assert "too large" in response.get_json()["detail"]
    # Without a declared length (chunked), the body is cut at the limit and refused all the same.
    response = client.post(
        "/api/reports/automation/schedules/",
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn marks a chunked body
    )
    assert response.status_code == 413 and response.is_json
    # Unauthenticated, the size is refused before anything else is read.
    response = app.test_client().post(
        "/api/reports/automation/schedules/", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.is_json
    assert not snapshot_diff(before, db_snapshot())


def test_page_bodies_are_capped_too(app):
    client = app.test_client()
    big = io.BytesIO(b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    response = client.post(
        "/login",
        data={"email": "a@example.com", "upload": (big, "big.bin")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "text/html" in response.content_type
    assert not any(leak in response.get_data(as_text=True) for leak in LEAKS)


# --------------------------------------------------------------------------------------------
# Error pages


@pytest.fixture
def exploding_app(app_factory):
    """The test app with routes that fail the ways production code can: a bad SQL statement and a
    plain exception whose message quotes SQL, on a page and on an API path."""
    application = app_factory(PROPAGATE_EXCEPTIONS=False)

    def bad_sql():
        db.session.execute(db.text("SELECT secret_column FROM no_such_table WHERE password = 'x'"))
        return "unreachable"

    def bad_code():
        raise RuntimeError("Traceback (most recent call last): SELECT * FROM users -- sqlalchemy psycopg")

    for prefix in ("", "/api/reports/automation"):
        application.add_url_rule(f"{prefix}/__test__/sql", f"test_sql{prefix.replace('/', '_')}", bad_sql)
        application.add_url_rule(f"{prefix}/__test__/code", f"test_code{prefix.replace('/', '_')}", bad_code)
    with application.app_context():
        yield application


def test_no_stack_trace_or_sql_in_any_error_answer(exploding_app, caplog):
    app = exploding_app
    world = build_world(app, Factory(app))
    owner = login(app.test_client(), world.a.owner.email)
    api = app.test_client()
    token = bearer(world.a.tokens["owner"])
    cases = [
        (owner, "GET", "/__test__/sql", {}, None, 500),
        (owner, "GET", "/__test__/code", {}, None, 500),
        (api, "GET", "/api/reports/automation/__test__/sql", token, None, 500),
        (api, "GET", "/api/reports/automation/__test__/code", token, None, 500),
        (owner, "GET", "/no/such/page", {}, None, 404),
        (api, "GET", "/api/reports/automation/nothing/", token, None, 404),
        (owner, "DELETE", "/schedules/", {}, None, 405),
        (api, "DELETE", "/api/reports/automation/history/", token, None, 405),
        (
            api,
            "POST",
            "/api/reports/automation/schedules/",
            {**token, "Content-Type": "application/json"},
            b"{bad json",
            400,
        ),
        (
            api,
            "POST",
            "/api/reports/automation/schedules/",
            {**token, "Content-Type": "text/plain"},
            b"name=x",
            415,
        ),
        (
            api,
            "POST",
            "/api/reports/automation/schedules/",
            {**token, "Content-Type": "application/json"},
            b'{"hour": "x"}',
            400,
        ),
        (api, "GET", "/api/reports/automation/schedules/?page=999", token, None, 404),
        (api, "GET", "/api/reports/automation/schedules/?page=%00", token, None, 400),
        (api, "GET", f"/api/reports/automation/history/{world.a.failed_run.id}/download/", token, None, 409),
        (api, "GET", "/api/reports/automation/schedules/", {"Authorization": "Bearer nope"}, None, 401),
        (owner, "GET", "/schedules/?search=%00", {}, None, 400),
        (owner, "GET", f"/history/{world.a.failed_run.id}/download", {}, None, 409),
    ]
    for client, method, path, headers, data, status in cases:
        response = client.open(path, method=method, headers=headers, data=data)
        body = response.get_data(as_text=True)
        assert response.status_code == status, (path, response.status_code, body[:300])
        leaks = [leak for leak in LEAKS if leak in body]
        assert not leaks, (path, leaks, body[:500])
        assert response.is_json == path.startswith("/api/"), path
    # The details went to the log, where they belong.
    assert "no_such_table" in caplog.text


# --------------------------------------------------------------------------------------------
# Hostile input everywhere: never a 500, never a trace

QUERY_PARAMS = (
    "page",
    "page_size",
    "search",
    "status",
    "export_type",
    "format",
    "trigger",
    "schedule_id",
    "start_date",
    "end_date",
    "is_active",
    "frequency",
    "list",
    "form_kind",
    "next",
    "email",
    "after",
    "count",
)
FORM_FIELDS = (
    *QUERY_PARAMS,
    "name",
    "hour",
    "minute",
    "day_of_week",
    "day_of_month",
    "week_of_month",
    "monthly_mode",
    "timezone",
    "recipients",
    "default_recipients",
    "email_subject",
    "email_message",
    "from_name",
    "reply_to_email",
    "filters.date_range",
    "filters.start_date",
    "business_id",
    "password",
    "form_nonce",
)
TEXT_VALUES = (
    "\x00",
    "a\x00b",
    "'; DROP TABLE users; --",
    "%",
    "_",
    "\\",
    "x" * 20000,
    "-1",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "\u202e\ufeff\U0001f600",
)
JSON_VALUES = (
    "\u0000",
    "\ud800",
    None,
    True,
    -1,
    10**30,
    1.5,
    [],
    {},
    [[[[]]]],
    {"$gt": ""},
    "x" * 20000,
    "'; DROP TABLE users; --",
)


@pytest.mark.slow
def test_hostile_input_on_every_route_never_gets_a_500(app, world):
    from dashboard.storage.links import make_download_token
    from tests.security.test_isolation_table import ROUTES, _url

    a = world.a
    owner = login(app.test_client(), a.owner.email)
    api = app.test_client()
    token = bearer(a.tokens["owner"])
    from dashboard.services.invitations import make_token
    from tests.security.test_isolation_table import INVITE_LINK, MEMBER_ID, TOKEN_ID, _targets

    targets = _targets(world)
    values = {
        "schedule-id": str(a.schedule.id),
        "history-id": str(a.run.id),
        "preset-id": str(a.preset.id),
        "signed-link": make_download_token(a.run),
        MEMBER_ID: str(targets[MEMBER_ID]),
        TOKEN_ID: str(targets[TOKEN_ID]),
        INVITE_LINK: make_token(targets[INVITE_LINK]),
    }
    fields = [name for name in JSON_FIELDS]
    sent = 0
    rules = sorted(app.url_map.iter_rules(), key=lambda r: ("delete" in r.endpoint, r.rule))
    accepted: dict[str, set[str]] = {}  # one path can have several rules (GET here, PUT there)
    for rule in rules:
        accepted.setdefault(rule.rule, set()).update(rule.methods)
    for rule in rules:
        if rule.endpoint == "static":
            continue
        url = _url(rule, values.get(ROUTES[rule.endpoint].access))
        is_api = rule.rule.startswith("/api/")
        client, headers = (api, token) if is_api else (owner, {})
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method not in rule.methods:
                if method in accepted[rule.rule]:
                    continue  # another rule of this path takes it
                response = client.open(url, method=method, headers=headers)
                assert response.status_code == 405 and "Allow" in response.headers, (method, url)
                assert response.is_json == is_api
                sent += 1
                continue
            if method == "GET":
                cases = [({"query_string": {p: v for p in QUERY_PARAMS}}) for v in TEXT_VALUES]
            elif is_api:
                cases = [{"json": {f: v for f in fields}} for v in JSON_VALUES]
                cases.append({"data": b"[" * 5000, "content_type": "application/json"})
            else:
                cases = [{"data": {f: v for f in FORM_FIELDS}} for v in TEXT_VALUES]
            for case in cases:
                if rule.endpoint == "auth.logout":
                    continue
                response = client.open(url, method=method, headers=headers, **case)
                body = response.get_data(as_text=True)
                assert response.status_code < 500, (method, url, str(case)[:120], body[:300])
                assert not [leak for leak in LEAKS if leak in body], (method, url, str(case)[:120])
                if is_api:
                    assert response.is_json or response.status_code in (200, 204), (method, url)
                sent += 1
            if rule.endpoint in ("auth.switch", "account.sign_out_everywhere", "account.change_password"):
                owner = login(app.test_client(), a.owner.email)
    from tests.security.security_helpers import MEASURED

    MEASURED["hostile input sweep"] = {"requests": sent, "server errors": 0}


JSON_FIELDS = (
    "name",
    "export_type",
    "format",
    "frequency",
    "hour",
    "minute",
    "day_of_week",
    "day_of_month",
    "week_of_month",
    "timezone",
    "recipients",
    "include_creator_email",
    "email_subject",
    "email_message",
    "filters",
    "skip_if_empty",
    "is_active",
    "send_email",
    "override_recipients",
    "notify_on_success",
    "notify_on_failure",
    "default_recipients",
    "from_name",
    "reply_to_email",
    "after",
    "count",
)
