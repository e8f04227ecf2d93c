"""Operator commands: `flask mail test ADDRESS` and `flask doctor`.

`mail test` sends one message with the configured mail settings and prints what the server said
(or, without MAIL_SERVER, where the .eml file went). `doctor` checks a deployment without sending
anything: database, migrations, storage, mail (connect, TLS, login, EHLO), Redis, scheduler,
BASE_URL and SECRET_KEY, one line each; its exit status is 1 when any check fails (warnings alone
leave it 0), so that a deploy script can run it before switching traffic.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from config import DEV_SECRET_KEY

mail_cli = AppGroup("mail", help="Check the mail settings.")

OK, WARN, FAIL = "ok", "warn", "FAIL"
# Below this many characters a SECRET_KEY is guessable (secrets.token_hex(32) gives 64).
MIN_SECRET_KEY_LENGTH = 32
# Redis must answer within this many seconds.
REDIS_TIMEOUT = 3
# An active schedule this late (beyond one poll interval) means no scheduler is polling.
OVERDUE_MARGIN = timedelta(minutes=5)


# ---- flask mail test ---------------------------------------------------------------------------


def _server_reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"


def _greeting(host) -> str:
    """The first line of the server's EHLO answer (its name and greeting)."""
    lines = (host.ehlo_resp or host.helo_resp or b"").decode("utf-8", "replace").splitlines()
    return lines[0] if lines else "no greeting"


def _mail_settings() -> str:
    config = current_app.config
    security = "SSL" if config.get("MAIL_USE_SSL") else "STARTTLS" if config.get("MAIL_USE_TLS") else "plain"
    login = f", login {config.get('MAIL_USERNAME')}" if config.get("MAIL_USERNAME") else ", no login"
    return f"{config.get('MAIL_SERVER')}:{config.get('MAIL_PORT')} ({security}{login})"


def _test_message(address: str):
    from dashboard.delivery.mailer import OutgoingMessage

    return OutgoingMessage(
        subject="[Test] Export Automation mail settings",
        recipients=[address],
        body=(
            "[Test] This message was sent by `flask mail test` to check the mail settings of\n"
            f"Export Automation ({_mail_settings()}, from {current_app.config.get('MAIL_DEFAULT_SENDER')}).\n"
            "If you can read it, exports will reach their recipients the same way.\n"
        ),
    )


@mail_cli.command("test")
@click.argument("address")
def mail_test_command(address: str) -> None:
    """Send one test message to ADDRESS and print the mail server's answer."""
    import smtplib

    from email_validator import EmailNotValidError, validate_email
    from flask_mail import sanitize_address

    from dashboard.delivery.mailer import (
        OutboxTransport,
        SmtpTransport,
        _describe_exception,
        outbox_mode,
        sender_address,
    )

    try:
        address = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        click.echo(f"Error: {address!r} is not a valid e-mail address: {exc}", err=True)
        sys.exit(2)
    message = _test_message(address)
    if outbox_mode():
        OutboxTransport().send(message)
        click.echo(
            "MAIL_SERVER is not set (or sending is suppressed): nothing was sent; the message was "
            f"written to {current_app.config.get('MAIL_OUTBOX_DIR')}/."
        )
        return
    click.echo(f"Mail server: {_mail_settings()}")
    transport = SmtpTransport()
    try:
        host = transport._open()
        click.echo(f"Connected: {_greeting(host)}")
        options = ["BODY=8BITMIME"] if host.has_extn("8bitmime") else []
        steps: list[tuple[str, Callable[[], tuple[int, bytes]], tuple[int, ...]]] = [
            ("MAIL FROM", lambda: host.mail(sanitize_address(sender_address()), options), (250,)),
            ("RCPT TO", lambda: host.rcpt(sanitize_address(address)), (250, 251)),
            ("DATA", lambda: host.data(message.as_bytes()), (250,)),
        ]
        for step, call, good in steps:
            code, reply = call()
            if code not in good:
                click.echo(f"Refused at {step}: {_server_reply(code, reply)}", err=True)
                sys.exit(1)
        click.echo(f"Sent to {address}. The server answered: {_server_reply(code, reply)}")
    except (smtplib.SMTPException, OSError) as exc:
        click.echo(f"Failed: {_describe_exception(exc)}", err=True)
        sys.exit(1)
    finally:
        transport.close()


# ---- flask doctor ------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    status: str
    detail: str


def _production() -> bool:
    return current_app.config.get("ENV_NAME") == "production"


def check_database() -> Check:
    from sqlalchemy import text

    from dashboard.extensions import db

    url = db.engine.url.render_as_string(hide_password=True)
    try:
        db.session.execute(text("SELECT 1"))
        return Check("database", OK, f"{url} answers")
    except Exception as exc:
        db.session.rollback()
        return Check("database", FAIL, f"{url}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def check_migrations() -> Check:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from dashboard.extensions import db

    try:
        config = current_app.extensions["migrate"].migrate.get_config()
        heads = set(ScriptDirectory.from_config(config).get_heads())
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0][:200]
        return Check("migrations", FAIL, f"cannot be read: {type(exc).__name__}: {first_line}")
    if not current:
        return Check("migrations", FAIL, "the database has no migrations applied: run `flask db upgrade`")
    if current != heads:
        return Check(
            "migrations",
            FAIL,
            f"the database is at {', '.join(sorted(current))}, the code at {', '.join(sorted(heads))}: "
            "run `flask db upgrade`",
        )
    return Check("migrations", OK, f"at head ({', '.join(sorted(heads))})")


def check_storage() -> Check:
    from dashboard.api.health import check_storage as probe

    config = current_app.config
    backend = (config.get("STORAGE_BACKEND") or "local").lower()
    where = (
        f"s3://{config.get('S3_BUCKET')}/{config.get('S3_PREFIX') or ''}"
        if backend == "s3"
        else str(config.get("EXPORT_ROOT"))
    )
    result = probe()
    if result == "ok":
        return Check("storage", OK, f"{backend}: {where} is writable" if backend == "local" else where)
    return Check("storage", FAIL, f"{backend}: {where}: {result.removeprefix('error: ')}")


def check_mail() -> Check:
    from dashboard.delivery.mailer import SmtpTransport, _describe_exception, outbox_mode

    config = current_app.config
    if outbox_mode():
        status = FAIL if _production() else WARN
        return Check(
            "mail",
            status,
            f"MAIL_SERVER not set: mail is written to {config.get('MAIL_OUTBOX_DIR')}/, not sent",
        )
    transport = SmtpTransport()
    try:
        host = transport._open()  # connect, STARTTLS, login, EHLO: everything but sending
        return Check("mail", OK, f"{_mail_settings()}: {_greeting(host)}")
    except Exception as exc:
        return Check("mail", FAIL, f"{_mail_settings()}: {_describe_exception(exc)}")
    finally:
        transport.close()


def check_redis() -> Check:
    from dashboard.api.health import redis_url

    url = redis_url()
    if not url:
        status = WARN if _production() else OK
        return Check("redis", status, "not configured: rate limits count in each process's memory")
    import redis

    safe = _hide_password(url)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
        client.ping()
        client.close()
        return Check("redis", OK, f"{safe} answers PING")
    except Exception as exc:
        return Check("redis", FAIL, f"{safe}: {type(exc).__name__}: {str(exc)[:200]}")


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def check_scheduler() -> Check:
    from sqlalchemy import func, select

    from dashboard.extensions import db
    from dashboard.models.automation import ExportSchedule
    from dashboard.models.types import utcnow

    config = current_app.config
    poll = float(config.get("SCHEDULER_POLL_SECONDS") or 60)
    here = (
        f"enabled in the app (polls every {poll:g} s)"
        if config.get("SCHEDULER_ENABLED")
        else ("disabled in the app (SCHEDULER_ENABLED=0): `flask scheduler run` must run elsewhere")
    )
    try:
        late = utcnow() - timedelta(seconds=poll) - OVERDUE_MARGIN
        overdue = db.session.scalar(
            select(func.count())
            .select_from(ExportSchedule)
            .where(ExportSchedule.is_active.is_(True), ExportSchedule.next_run_at < late)
        )
    except Exception as exc:
        db.session.rollback()
        return Check("scheduler", FAIL, f"{here}; schedules cannot be read ({type(exc).__name__})")
    if overdue:
        return Check(
            "scheduler",
            FAIL,
            f"{here}; {overdue} active schedule(s) overdue by more than {OVERDUE_MARGIN.seconds // 60} min: "
            "is a scheduler running?",
        )
    return Check("scheduler", OK, f"{here}; no schedule overdue")


def check_base_url() -> Check:
    from dashboard.base_url import DEFAULT_DEV_URL

    value = current_app.config.get("BASE_URL") or ""
    if not value:
        if _production():
            return Check("BASE_URL", FAIL, "not set: links in e-mails would follow the requests' Host header")
        return Check(
            "BASE_URL", WARN, f"not set: links use the served host and port (else {DEFAULT_DEV_URL})"
        )
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return Check("BASE_URL", FAIL, f"{value!r} is not an http(s) address")
    if _production() and parts.scheme != "https":
        return Check("BASE_URL", WARN, f"{value}: not https (cookies are not marked Secure)")
    return Check("BASE_URL", OK, value)


def check_secret_key() -> Check:
    key = current_app.config.get("SECRET_KEY") or ""
    if not key or key == DEV_SECRET_KEY:
        status = FAIL if _production() else WARN
        return Check("SECRET_KEY", status, "the development default: set a long random value")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return Check("SECRET_KEY", FAIL if _production() else WARN, f"only {len(key)} characters")
    return Check("SECRET_KEY", OK, f"set ({len(key)} characters)")


CHECKS = (
    check_database,
    check_migrations,
    check_storage,
    check_mail,
    check_redis,
    check_scheduler,
    check_base_url,
    check_secret_key,
)


def run_checks() -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as exc:  # a check that breaks is itself a failure, never a traceback
            first_line = (str(exc).splitlines() or [""])[0][:200]
            results.append(
                Check(check.__name__.removeprefix("check_"), FAIL, f"{type(exc).__name__}: {first_line}")
            )
    return results


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check the database, migrations, storage, mail, Redis, scheduler, BASE_URL and SECRET_KEY."""
    results = run_checks()
    for result in results:
        detail = " ".join(result.detail.split())  # one line each, whatever an error message holds
        click.echo(f"{result.status:<4}  {result.name:<10}  {detail[:400]}")
    failed = [r.name for r in results if r.status == FAIL]
    if failed:
        click.echo(f"{len(failed)} problem(s): {', '.join(failed)}", err=True)
        sys.exit(1)


def init_app(app) -> None:
    app.cli.add_command(mail_cli)
    app.cli.add_command(doctor_command)
