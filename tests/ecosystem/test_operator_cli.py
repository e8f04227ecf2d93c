"""`flask mail test ADDRESS` against a real SMTP server (aiosmtpd), and `flask doctor` on a good and
on broken configurations (its own SQLite file, migrated by `flask db upgrade`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from config import TestConfig
from dashboard import create_app
from dashboard.extensions import db
from tests.delivery.conftest import SmtpServer, free_port

pytestmark = pytest.mark.nodb  # its own SQLite files, never TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "ENV_NAME": "production",
    "SECRET_KEY": "k" * 64,
    "BASE_URL": "https://exports.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "MAIL_SUPPRESS_SEND": False,
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_TIMEOUT": 5,
}


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory):
    """A SQLite file at the migrations' head, made once by `flask db upgrade` in a process of its own
    (Alembic's logging set-up in env.py would switch off this process's loggers, and caplog with them)."""
    path = tmp_path_factory.mktemp("doctor") / "template.sqlite3"
    env = {
        **os.environ,
        "FLASK_APP": "app",
        "DATABASE_URL": f"sqlite:///{path}",
        "INSTANCE_PATH": str(path.parent),
    }
    env.pop("APP_ENV", None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return path


@pytest.fixture
def make_app(tmp_path, migrated_template):
    made = []

    def make(migrate: bool = True, **overrides):
        database = tmp_path / f"doctor{len(made)}.sqlite3"
        if migrate:
            shutil.copy(migrated_template, database)
        settings = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "EXPORT_ROOT": str(tmp_path / "exports"),
            "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        }
        settings.update(overrides)
        app = create_app(TestConfig, **settings)
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def doctor(app) -> tuple[int, dict[str, tuple[str, str]]]:
    result = app.test_cli_runner().invoke(args=["doctor"])
    lines = {}
    for line in result.stdout.splitlines():
        status, name, detail = line.split(None, 2)
        lines[name] = (status, detail)
    assert list(lines) == [
        "database",
        "migrations",
        "storage",
        "mail",
        "redis",
        "scheduler",
        "BASE_URL",
        "SECRET_KEY",
    ], result.output
    return result.exit_code, lines


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def closed_port() -> int:
    return free_port()  # nothing listens there


def test_doctor_on_a_good_configuration(make_app, smtp):
    app = make_app(**GOOD, MAIL_PORT=smtp.port)
    code, lines = doctor(app)
    assert {name: status for name, (status, _) in lines.items()} == dict.fromkeys(lines, "ok"), lines
    assert code == 0
    assert lines["migrations"][1].startswith("at head (")
    assert "redis://127.0.0.1:6379/14 answers PING" in lines["redis"][1]
    assert lines["mail"][1].startswith(f"127.0.0.1:{smtp.port} (plain, no login): ")
    assert smtp.received == [], "the doctor never sends mail"


def test_doctor_on_a_broken_configuration(make_app, tmp_path):
    from dashboard.models import Business
    from dashboard.models.automation import ExportSchedule
    from dashboard.models.types import utcnow

    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    app = make_app(
        **{
            **GOOD,
            "MAIL_PORT": closed_port(),
            "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/14",
            "EXPORT_ROOT": str(not_a_folder),
            "BASE_URL": "",
            "SECRET_KEY": "short",
        }
    )
    with app.app_context():  # a schedule long overdue: nothing is polling
        business = Business(name="Late Ltd", timezone="UTC", currency="USD")
        db.session.add(business)
        db.session.flush()
        db.session.add(
            ExportSchedule(
                business_id=business.id,
                name="Daily sales",
                export_type="SALES",
                format="csv",
                frequency="DAILY",
                hour=8,
                timezone="UTC",
                recipients=["a@example.com"],
                filters={"date_range": "yesterday"},
                is_active=True,
                next_run_at=utcnow() - timedelta(hours=3),
            )
        )
        db.session.commit()
    code, lines = doctor(app)
    assert code == 1
    assert lines["database"][0] == "ok" and lines["migrations"][0] == "ok"
    for name in ("storage", "mail", "redis", "scheduler", "BASE_URL", "SECRET_KEY"):
        assert lines[name][0] == "FAIL", (name, lines[name])
    assert "refused the connection" in lines["mail"][1]
    assert "1 active schedule(s) overdue" in lines["scheduler"][1]
    assert "only 5 characters" in lines["SECRET_KEY"][1]


def test_doctor_on_an_unmigrated_and_an_unreachable_database(make_app, tmp_path):
    code, lines = doctor(make_app(migrate=False))
    assert code == 1 and lines["database"][0] == "ok"
    assert lines["migrations"] == ("FAIL", "the database has no migrations applied: run `flask db upgrade`")
    gone = make_app(
        migrate=False, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'no' / 'such' / 'db.sqlite3'}"
    )
    code, lines = doctor(gone)
    assert code == 1 and lines["database"][0] == "FAIL" and "OperationalError" in lines["database"][1]
    assert lines["migrations"][0] == "FAIL"


def test_doctor_in_development_warns_but_passes(make_app):
    code, lines = doctor(make_app(ENV_NAME="development", BASE_URL="", SECRET_KEY="dev-not-secret-change-me"))
    assert code == 0
    assert lines["mail"][0] == lines["BASE_URL"][0] == lines["SECRET_KEY"][0] == "warn"


def test_mail_test_sends_one_message_and_prints_the_servers_answer(make_app, smtp):
    app = make_app(migrate=False, **GOOD, MAIL_PORT=smtp.port)
    result = app.test_cli_runner().invoke(args=["mail", "test", "Ops@Example.com"])
    assert result.exit_code == 0, result.output
    assert f"Mail server: 127.0.0.1:{smtp.port} (plain, no login)" in result.stdout
    assert (
        "Sent to Ops@example.com. The server answered: 250 2.0.0 Message accepted for delivery"
        in result.stdout
    )
    assert len(smtp.received) == 1
    message = smtp.received[0].message
    assert smtp.received[0].rcpt_tos == ["Ops@example.com"]
    assert message["Subject"] == "[Test] Export Automation mail settings"
    assert "[Test]" in message.get_content()


def test_mail_test_reports_a_refusal_and_an_unreachable_server(make_app, smtp):
    smtp.handler.refuse.add("nobody@example.com")
    app = make_app(migrate=False, **GOOD, MAIL_PORT=smtp.port)
    result = app.test_cli_runner().invoke(args=["mail", "test", "nobody@example.com"])
    assert result.exit_code == 1
    assert "Refused at RCPT TO: 550 5.1.1 <nobody@example.com>: Recipient address rejected" in result.stderr
    app = make_app(migrate=False, **GOOD, MAIL_PORT=closed_port())
    result = app.test_cli_runner().invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code == 1 and "refused the connection" in result.stderr
    assert smtp.received == []


def test_mail_test_refuses_a_bad_address_and_says_so_without_a_server(make_app):
    app = make_app(migrate=False)  # TestConfig: no MAIL_SERVER, sending suppressed
    result = app.test_cli_runner().invoke(args=["mail", "test", "not an address"])
    assert result.exit_code == 2 and "is not a valid e-mail address" in result.stderr
    result = app.test_cli_runner().invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code == 0 and "nothing was sent; the message was written to" in result.stdout


def test_no_leftover_socket(monkeypatch):
    # closed_port really is closed (the failure tests rely on it).
    port = closed_port()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
