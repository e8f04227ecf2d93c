"""docs/deploy.md stays true: every contract setting is documented, and the defaults it states are
the ones config.py and gunicorn.conf.py actually use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from config import Config, ProductionConfig
from tests.production.prodkit import ROOT

pytestmark = pytest.mark.nodb

DOC = (ROOT / "docs" / "deploy.md").read_text()
GUNICORN_CONF = (ROOT / "gunicorn.conf.py").read_text()
CONFIG_SOURCE = (ROOT / "config.py").read_text()

# CONTRACT section 1: every setting a deployer may set.
CONTRACT_SETTINGS = """DATABASE_URL STORAGE_BACKEND S3_BUCKET S3_PREFIX S3_ENDPOINT_URL MAIL_SERVER MAIL_PORT
MAIL_USE_TLS MAIL_USE_SSL MAIL_USERNAME MAIL_PASSWORD MAIL_DEFAULT_SENDER SECRET_KEY BASE_URL SCHEDULER_ENABLED
SCHEDULER_POLL_SECONDS EXPORT_RETENTION_DAYS EXPORT_WORKERS EXPORT_STALE_SECONDS EXPORT_MAX_RETRIES
EXPORT_RETRY_BASE_SECONDS PDF_MAX_ROWS MAIL_TIMEOUT MAIL_MAX_ATTACHMENT_MB DOWNLOAD_LINK_TTL_DAYS
MAX_RECIPIENTS API_MAX_BODY_KB HTMX_URL""".split()


def documented() -> dict[str, str]:
    """Variable -> the default column, from the tables' rows."""
    rows = {}
    for match in re.finditer(r"^\| `([A-Z0-9_]+)`[^|]*\| ([^|]+) \|", DOC, re.M):
        rows[match.group(1)] = match.group(2).strip()
    return rows


def test_every_contract_setting_is_documented():
    missing = [name for name in CONTRACT_SETTINGS if name not in documented()]
    assert missing == []


def test_every_documented_variable_is_read_by_the_code():
    for name in documented():
        if name.startswith("AWS_"):
            continue  # read by boto3
        assert f'"{name}"' in CONFIG_SOURCE or f'"{name}"' in GUNICORN_CONF, name


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@pytest.mark.parametrize("name", sorted(n for n in documented() if hasattr(Config, n)))
def test_documented_defaults_are_the_real_ones(name, monkeypatch):
    stated = documented()[name].strip("`")
    actual = getattr(Config, name)
    if stated.startswith(("(empty", "a development key", "`memory://`")) or "(production" in stated:
        if stated.startswith("(empty"):
            assert actual in ("", None, 0) or actual == [], (name, actual)
        return
    if isinstance(actual, bool):
        assert stated in ("0", "1"), (name, stated)
        assert actual == (stated == "1"), (name, stated, actual)
    elif isinstance(actual, int | float):
        assert _as_number(stated) == float(actual), (name, stated, actual)
    elif isinstance(actual, str) and ("/" in stated or "\\" in stated) and not stated.startswith("sqlite"):
        assert actual.replace("\\", "/").endswith(stated), (name, stated, actual)
    elif name == "DATABASE_URL" or name == "SQLALCHEMY_DATABASE_URI":
        pass
    else:
        assert str(actual) == stated, (name, stated, actual)


def test_database_url_default_is_the_sqlite_file():
    assert documented()["DATABASE_URL"] == "`sqlite:///instance/dashboard.sqlite3`"
    assert Config.SQLALCHEMY_DATABASE_URI.endswith("instance/dashboard.sqlite3")


def test_production_defaults_stated_in_the_doc():
    assert documented()["LOG_FORMAT"].startswith("`text` (production: `json`)")
    assert Config.LOG_FORMAT == "text" and ProductionConfig.LOG_FORMAT in ("json", "keyvalue", "text")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("GUNICORN_BIND", '"127.0.0.1:8000"'),
        ("WEB_CONCURRENCY", '"2"'),
        ("GUNICORN_WORKER_CLASS", '"gthread"'),
        ("GUNICORN_THREADS", '"4"'),
        ("GUNICORN_TIMEOUT", '"60"'),
        ("GRACEFUL_TIMEOUT", '"30"'),
    ],
)
def test_gunicorn_defaults_in_the_doc_match_gunicorn_conf(name, expected):
    assert f'os.environ.get("{name}", {expected})' in GUNICORN_CONF
    assert documented()[name] == f"`{expected.strip(chr(34))}`"


@pytest.mark.parametrize("threads, connections", [(None, 10), ("8", 18)])
def test_a_worker_holds_two_connections_per_thread_plus_two(threads, connections):
    """As gunicorn itself resolves gunicorn.conf.py: gunicorn's own default (1000) let one worker
    take a burst's every connection while the other idled."""
    # None of the caller's gunicorn settings (GUNICORN_CMD_ARGS included), then the one under test.
    env = {name: value for name, value in os.environ.items() if not name.startswith("GUNICORN_")}
    if threads:
        env["GUNICORN_THREADS"] = threads
    printed = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--print-config",
            "app:app",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    settings = dict(map(str.strip, line.split("=", 1)) for line in printed.splitlines() if "=" in line)
    assert int(settings["worker_connections"]) == connections
    assert documented()["GUNICORN_WORKER_CONNECTIONS"].startswith("`GUNICORN_THREADS` x 2 + 2 (`10`)")
