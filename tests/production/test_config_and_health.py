"""Production settings read from the environment, and /readyz checking the database and the storage
(the details for the operator token; tests/ops/test_health.py covers what anonymous callers see)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from config import ProductionConfig
from dashboard import create_app
from tests.production.prodkit import ROOT

PROBE = """
import json
from config import config_for_environment
c = config_for_environment()
print(json.dumps({k: getattr(c, k, None) for k in (
    "ENV_NAME", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "REMEMBER_COOKIE_SECURE", "RATELIMIT_STORAGE_URI", "RATELIMIT_SWALLOW_ERRORS", "LOG_FORMAT",
    "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "STORAGE_BACKEND", "S3_BUCKET", "S3_PREFIX", "S3_ENDPOINT_URL",
    "SCHEDULER_START", "PREFERRED_URL_SCHEME")}))
"""


def settings(**env: str) -> dict:
    """The configuration class that APP_ENV selects, evaluated in a fresh interpreter."""
    full = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RATELIMIT_STORAGE_URI")}
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=full, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.nodb
def test_production_reads_its_settings_from_the_environment():
    values = settings(
        APP_ENV="production",
        BASE_URL="https://exports.example.com",
        REDIS_URL="redis://127.0.0.1:6379/3",
        DB_POOL_SIZE="8",
        DB_MAX_OVERFLOW="4",
        STORAGE_BACKEND="s3",
        S3_BUCKET="shop-exports",
        S3_PREFIX="prod",
        S3_ENDPOINT_URL="http://127.0.0.1:9000",
    )
    assert values["ENV_NAME"] == "production"
    assert values["SESSION_COOKIE_SECURE"] is True and values["REMEMBER_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True and values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["PREFERRED_URL_SCHEME"] == "https"
    # Limits shared by every worker and host; a Redis outage degrades to per-process counting.
    assert values["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert values["RATELIMIT_SWALLOW_ERRORS"] is True
    assert values["LOG_FORMAT"] == "json"
    assert (values["DB_POOL_SIZE"], values["DB_MAX_OVERFLOW"]) == (8, 4)
    assert (values["STORAGE_BACKEND"], values["S3_BUCKET"], values["S3_PREFIX"]) == (
        "s3",
        "shop-exports",
        "prod",
    )
    assert values["S3_ENDPOINT_URL"] == "http://127.0.0.1:9000"


@pytest.mark.nodb
def test_explicit_rate_limit_storage_wins_and_plain_http_keeps_cookies_usable():
    values = settings(
        APP_ENV="production",
        BASE_URL="http://10.0.0.5:8000",
        REDIS_URL="redis://127.0.0.1:6379/3",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/9",
    )
    assert values["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/9"
    # A cookie marked Secure is never sent back over http: sign-in would silently fail.
    assert values["SESSION_COOKIE_SECURE"] is False


@pytest.mark.nodb
@pytest.mark.parametrize("secret", [None, "", "dev-not-secret-change-me"])
def test_production_refuses_to_start_without_a_real_secret_key(secret):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"APP_ENV": "production", "DATABASE_URL": "sqlite://", "SCHEDULER_ENABLED": "0"})
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.fixture
def keep_logging():
    """A production app installs its log handler on the root logger: take it away afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.nodb
def test_postgresql_engine_gets_a_sized_pool_pre_ping_and_a_connect_timeout(tmp_path, keep_logging):
    class Settings(ProductionConfig):
        SECRET_KEY = "a-long-random-production-secret-key"
        SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"  # never connected
        SCHEDULER_ENABLED = False
        DB_POOL_SIZE = 7
        DB_MAX_OVERFLOW = 3
        DB_CONNECT_TIMEOUT = 4
        RATELIMIT_STORAGE_URI = "memory://"

    app = create_app(Settings, EXPORT_ROOT=str(tmp_path / "exports"), MAIL_OUTBOX_DIR=str(tmp_path / "out"))
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] is True
    assert (options["pool_size"], options["max_overflow"]) == (7, 3)
    assert options["connect_args"]["connect_timeout"] == 4
    with app.app_context():
        from dashboard.extensions import db

        assert db.engine.dialect.driver == "psycopg"  # psycopg 3
        assert db.engine.pool.size() == 7


OPS = {"Authorization": "Bearer ops-token-for-tests-0123456789"}


def ready(application, **kwargs):
    application.config["OPS_TOKEN"] = OPS["Authorization"].split()[1]
    return application.test_client().get("/readyz", headers=OPS, **kwargs)


def test_readyz_checks_database_and_local_storage(app):
    response = ready(app)
    assert response.status_code == 200
    assert response.get_json()["checks"] == {
        "database": "ok",
        "storage": "ok",
        "redis": "disabled",
        "smtp": "disabled",
        "scheduler": "disabled",
    }


def test_readyz_reports_an_unwritable_export_folder(app_factory, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should be")
    application = app_factory(EXPORT_ROOT=str(blocker / "exports"))
    response = ready(application)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["checks"]["database"] == "ok"
    assert body["checks"]["storage"].startswith("error: export folder not writable")
    assert not list(tmp_path.rglob(".healthz-*"))  # the probe never stays behind


def test_readyz_checks_the_s3_bucket(app_factory, s3_server, s3_bucket):
    ok = app_factory(STORAGE_BACKEND="s3", S3_BUCKET=s3_bucket, S3_ENDPOINT_URL=s3_server.endpoint)
    assert ready(ok).get_json()["checks"]["storage"] == "ok"

    missing = app_factory(
        STORAGE_BACKEND="s3", S3_BUCKET="no-such-bucket", S3_ENDPOINT_URL=s3_server.endpoint
    )
    response = ready(missing)
    assert response.status_code == 503
    assert response.get_json()["checks"]["storage"].startswith("error: bucket 'no-such-bucket' unavailable")
    # Anonymous callers learn that it is not ready, not which bucket (the issue 22 finding).
    anonymous = missing.test_client().get("/readyz")
    assert anonymous.status_code == 503 and anonymous.get_json() == {"status": "error"}
    assert b"no-such-bucket" not in anonymous.data


def test_readyz_reports_s3_down_quickly(app_factory):
    import socket
    import time

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    application = app_factory(
        STORAGE_BACKEND="s3", S3_BUCKET="exports", S3_ENDPOINT_URL=f"http://127.0.0.1:{port}"
    )
    started = time.monotonic()
    response = ready(application)
    assert response.status_code == 503
    assert "unavailable" in response.get_json()["checks"]["storage"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("trusted, separate", [(1, True), (0, False)])
def test_rate_limits_count_per_client_behind_a_trusted_proxy(app_factory, trusted, separate):
    """Behind one proxy (TRUSTED_PROXIES=1) the limit is per client address from X-Forwarded-For;
    without it every request seems to come from the proxy and shares one limit."""
    application = app_factory(
        RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute", TRUSTED_PROXIES=trusted
    )
    client = application.test_client()

    def attempt(address: str, n: int) -> int:
        # One account: sign-in throttling counts per (account, client address) since issue 15.
        return client.post(
            "/login",
            data={"email": "someone@example.com", "password": "wrong-password"},
            headers={"X-Forwarded-For": address},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
        ).status_code

    assert [attempt("203.0.113.7", n) for n in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.4", 9) == (401 if separate else 429)


@pytest.mark.nodb
@pytest.mark.parametrize("start, started", [("postfork", False), ("app", True)])
def test_create_app_leaves_the_scheduler_to_gunicorn_after_the_fork(tmp_path, start, started):
    """gunicorn.conf.py sets SCHEDULER_START=postfork before the app is imported: create_app() (in
    the arbiter with --preload) must not start a scheduler thread that fork() would lose."""
    from config import TestConfig
    from dashboard.automation import jobs

    app = create_app(
        TestConfig,
        SCHEDULER_ENABLED=True,
        SCHEDULER_FORCE=True,
        SCHEDULER_START=start,
        EXPORT_ROOT=str(tmp_path / "exports"),
        MAIL_OUTBOX_DIR=str(tmp_path / "outbox"),
    )
    try:
        assert ("export_scheduler" in app.extensions) is started
    finally:
        jobs.shutdown_scheduler(app, wait=False)
