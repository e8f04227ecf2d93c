"""CLI safety: the demo seed refuses production, passwords never only from argv, user management
commands that end sessions and leave audit entries, and `flask exports skip-missed`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import AuditLog, Business, User
from dashboard.models.automation import ExportHistory, ExportSchedule
from dashboard.models.types import utcnow
from tests.conftest import PASSWORD


def test_demo_seed_refuses_a_production_database_unless_told(app_factory):
    app = app_factory(ENV_NAME="production")
    runner = app.test_cli_runner()
    with app.app_context():
        refused = runner.invoke(args=["demo", "seed", "--business", "Real Shop", "--sales", "5"])
        assert refused.exit_code == 2 and "--yes-i-know" in refused.output
        assert db.session.scalar(select(func.count(Business.id))) == 0  # nothing created
        done = runner.invoke(args=["demo", "seed", "--business", "Real Shop", "--sales", "5", "--yes-i-know"])
        assert done.exit_code == 0, done.output
        assert db.session.scalar(select(func.count(Business.id))) == 1


def test_users_create_reads_the_password_from_stdin(runner, app):
    result = runner.invoke(
        args=["users", "create", "a@example.com", "--password-stdin", "--business", "B", "--role", "owner"],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "a@example.com"))
    assert user.check_password("a-long-password") and "Warning" not in result.output


def test_users_create_with_password_option_still_works_but_warns(runner, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "b@example.com",
            "--password",
            "a-long-password",
            "--business",
            "B",
            "--role",
            "owner",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "visible to other users in `ps`" in result.output
    assert db.session.scalar(select(User).where(User.email == "b@example.com")).check_password(
        "a-long-password"
    )


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["--password-stdin"], "", "held no password"),
        (["--password-stdin"], "short\n", "at least 8 characters"),
        (["--password-stdin", "--password", "x" * 10], "y" * 10 + "\n", "not both"),
        ([], "", "use --password-stdin"),  # no terminal: no silent prompt on a pipe
    ],
)
def test_bad_passwords_are_refused_with_a_clear_error(runner, app, args, stdin, message):
    result = runner.invoke(
        args=["users", "create", "c@example.com", *args, "--business", "B", "--role", "owner"], input=stdin
    )
    assert result.exit_code == 2 and message in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_users_list(runner, factory):
    shop = factory.business("Shop One")
    factory.user(shop, role="owner", email="owner@example.com")
    factory.user(factory.business("Shop Two"), role="manager", email="m@example.com")
    everyone = runner.invoke(args=["users", "list"])
    assert everyone.exit_code == 0
    assert "owner@example.com\tactive" in everyone.output and "Shop One (owner)" in everyone.output
    assert "m@example.com" in everyone.output
    one = runner.invoke(args=["users", "list", "--business", "Shop One"])
    assert "m@example.com" not in one.output
    assert runner.invoke(args=["users", "list", "--business", "Nope"]).exit_code == 2


def test_set_password_ends_sessions_and_is_audited(runner, factory, client, auth):
    shop = factory.business("Shop")
    user = factory.user(shop, email="o@example.com")
    auth.login("o@example.com")
    assert client.get("/").status_code == 200
    version = user.session_version
    result = runner.invoke(
        args=["users", "set-password", "o@example.com", "--password-stdin"], input="new-password-1\n"
    )
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.check_password("new-password-1") and not user.check_password(PASSWORD)
    assert user.session_version == version + 1
    # The old session cookie names the old version: it no longer signs anybody in.
    assert client.get("/").status_code == 302
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.password_set"))
    assert entry.business_id == shop.id and entry.entity_id == str(user.id) and entry.ip_address == "cli"
    assert "new-password-1" not in entry.details


def test_deactivate_ends_sessions_refuses_tokens_and_is_audited(runner, factory, client, auth):
    from dashboard.auth.tokens import create_token

    shop = factory.business("Shop")
    user = factory.user(shop, email="d@example.com")
    token = create_token(user.memberships[0])
    auth.login("d@example.com")
    api = "/api/reports/automation/schedules/"
    assert client.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    result = runner.invoke(args=["users", "deactivate", "d@example.com"])
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302
    assert client.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert auth.login("d@example.com").status_code != 302  # cannot sign in again
    assert (
        db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "user.deactivated")) == 1
    )
    assert runner.invoke(args=["users", "activate", "d@example.com"]).exit_code == 0
    assert runner.invoke(args=["users", "deactivate", "nobody@example.com"]).exit_code == 2


def test_skip_missed_moves_overdue_schedules_without_running_them(runner, factory):
    shop = factory.business("Shop", timezone="Europe/London")
    owner = factory.user(shop)
    now = utcnow()
    overdue = ExportSchedule(
        business_id=shop.id,
        created_by_id=owner.id,
        name="Daily",
        export_type="SALES",
        format="csv",
        frequency="DAILY",
        hour=7,
        timezone="Europe/London",
        recipients=["a@example.com"],
        filters={"date_range": "yesterday"},
        next_run_at=now - timedelta(days=3),
    )
    future_at = now + timedelta(hours=5)
    future = ExportSchedule(
        business_id=shop.id,
        created_by_id=owner.id,
        name="Later",
        export_type="SALES",
        format="csv",
        frequency="DAILY",
        hour=7,
        timezone="UTC",
        recipients=["a@example.com"],
        filters={"date_range": "yesterday"},
        next_run_at=future_at,
    )
    inactive = ExportSchedule(
        business_id=shop.id,
        created_by_id=owner.id,
        name="Off",
        export_type="SALES",
        format="csv",
        frequency="DAILY",
        hour=7,
        timezone="UTC",
        recipients=["a@example.com"],
        filters={"date_range": "yesterday"},
        next_run_at=now - timedelta(days=3),
        is_active=False,
    )
    db.session.add_all([overdue, future, inactive])
    db.session.commit()
    dry = runner.invoke(args=["exports", "skip-missed", "--dry-run"])
    assert dry.exit_code == 0 and "1 overdue, would move 1" in dry.output
    db.session.refresh(overdue)
    assert overdue.next_run_at < now  # the dry run changed nothing

    result = runner.invoke(args=["exports", "skip-missed"])
    assert result.exit_code == 0 and "1 overdue, moved 1, 0 errors" in result.output
    for item in (overdue, future, inactive):
        db.session.refresh(item)
    assert now < overdue.next_run_at <= now + timedelta(days=1)
    assert overdue.next_run_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London")).hour == 7
    assert future.next_run_at == future_at and inactive.next_run_at < now
    # Nothing ran: a poll now finds nothing due.
    poll = runner.invoke(args=["exports", "run-due"])
    assert poll.exit_code == 0 and poll.output.startswith("run-due: 0 due")
    assert db.session.scalar(select(func.count(ExportHistory.id))) == 0
    assert (
        db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "schedule.skipped_missed"))
        == 1
    )
