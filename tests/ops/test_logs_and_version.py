"""Every log line one JSON object (migrations and CLI included), the access log's fields, a WARNING for
each undelivered mail with the run's id, and the version in pyproject, changelog, logs and footer."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dashboard.core.version import app_version
from dashboard.logging_setup import JsonFormatter, KeyValueFormatter, install_record_factory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.nodb
def test_version_comes_from_pyproject_and_the_changelog_has_it():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert app_version() == version and re.fullmatch(r"\d+\.\d+\.\d+", version)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)


def test_footer_shows_the_version(client):
    page = client.get("/login").get_data(as_text=True)
    assert f"Export Automation {app_version()}" in page


def _gunicorn_access_record(status: str = "404 NOT FOUND") -> logging.LogRecord:
    """A record exactly as gunicorn's Logger.access() makes it: its format string and its atoms."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    logger = Logger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/reports/automation/schedules/?page=2",
        "PATH_INFO": "/api/reports/automation/schedules/",
        "QUERY_STRING": "page=2",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_USER_AGENT": "curl/8",
    }
    request = SimpleNamespace(
        headers=[("X-FORWARDED-FOR", "203.0.113.7"), ("AUTHORIZATION", "Bearer secret-token")]
    )
    response = SimpleNamespace(status=status, sent=123, headers=[])
    atoms = logger.atoms(response, request, environ, timedelta(seconds=0, microseconds=45_600))
    install_record_factory()
    return logging.getLogger("gunicorn.access").makeRecord(
        "gunicorn.access", logging.INFO, __file__, 1, logger.cfg.access_log_format, (atoms,), None
    )


@pytest.mark.nodb
def test_access_log_lines_carry_method_path_status_and_duration_fields():
    line = json.loads(JsonFormatter().format(_gunicorn_access_record()))
    assert line["method"] == "GET" and line["path"] == "/api/reports/automation/schedules/"
    assert line["status"] == 404 and line["duration_ms"] == 45.6 and line["query"] == "page=2"
    assert line["remote_addr"] == "10.0.0.2" and line["forwarded_for"] == "203.0.113.7"
    assert line["version"] == app_version()
    assert "secret-token" not in json.dumps(line)  # request headers are not copied
    kv = KeyValueFormatter().format(_gunicorn_access_record("200 OK"))
    assert "status=200" in kv and "duration_ms=45.6" in kv and "secret-token" not in kv


def _production_env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_DATABASE", "LOG_"))}
    env.update(
        APP_ENV="production",
        SECRET_KEY="a-long-production-secret-for-the-logging-test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        INSTANCE_PATH=str(tmp_path / "instance"),
        SCHEDULER_ENABLED="0",
        FLASK_APP="app",
        **extra,
    )
    return env


def _flask(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.nodb
def test_migrations_and_cli_log_one_json_object_per_line(tmp_path):
    env = _production_env(tmp_path)
    upgrade = _flask(["db", "upgrade"], env)
    assert upgrade.returncode == 0, upgrade.stderr
    lines = upgrade.stderr.strip().splitlines()
    assert any("Running upgrade" in json.loads(line)["msg"] for line in lines)
    assert all(json.loads(line)["version"] == app_version() for line in lines)  # every line JSON
    run_due = _flask(["exports", "run-due"], env)
    assert run_due.returncode == 0, run_due.stderr
    records = [json.loads(line) for line in run_due.stderr.strip().splitlines()]
    (summary,) = [r for r in records if r.get("job") == "check_and_run_scheduled_exports"]
    assert summary["summary"]["due"] == 0 and "{" not in summary["msg"]  # fields, not a dict in msg
    assert run_due.stdout.startswith("run-due: 0 due")  # the command's answer, for people and scripts


def test_every_undelivered_mail_logs_a_warning_with_the_run_id(app_factory, caplog):
    from dashboard.automation.runner import ScheduledExportRunner
    from dashboard.extensions import db
    from dashboard.models.automation import ExportSchedule
    from tests.delivery.conftest import SmtpServer, smtp_config
    from tests.ops.conftest import seeded_business

    server = SmtpServer().start()
    server.handler.refuse.add("nobody@example.com")
    try:
        app = app_factory(**smtp_config(server.port))
        with app.app_context():
            business, owner = seeded_business()
            item = ExportSchedule(
                business_id=business.id,
                created_by_id=owner.id,
                name="Daily",
                export_type="INVENTORY",
                format="csv",
                frequency="DAILY",
                hour=7,
                timezone="UTC",
                recipients=["nobody@example.com", "ok@example.com"],
                filters={},
            )
            db.session.add(item)
            db.session.commit()
            with caplog.at_level(logging.INFO):
                history = ScheduledExportRunner().execute_schedule(item, "SCHEDULED")
    finally:
        server.stop()
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "not delivered" in r.getMessage()
    ]
    assert len(warnings) == 1
    (warning,) = warnings
    assert warning.history_id == str(history.id) and warning.mail_outcome == "refused"
    assert "nobody@example.com" in warning.getMessage() and "550" in warning.getMessage()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.handle(warning)
    assert json.loads(stream.getvalue())["history_id"] == str(history.id)
