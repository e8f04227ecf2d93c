"""Helpers for the runner's tests: schedules and products in the test database, and separate
databases (a SQLite file, or a PostgreSQL database beside TEST_DATABASE_URL) that real processes
share in the multi-process tests."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, Table, inspect, make_url, select, text

from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule, Product

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
FLASK = str(VENV_BIN / "flask")
WORKER = str(Path(__file__).with_name("mp_worker.py"))
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_schedule(business, user=None, **fields) -> ExportSchedule:
    values = dict(
        business_id=business.id,
        created_by_id=user.id if user is not None else None,
        name="Nightly inventory",
        export_type="INVENTORY",
        format="csv",
        frequency="DAILY",
        hour=8,
        minute=0,
        timezone="UTC",
        recipients=[],
        filters={},
        is_active=True,
    )
    values.update(fields)
    schedule = ExportSchedule(**values)
    db.session.add(schedule)
    db.session.commit()
    return schedule


def add_products(business, count: int = 25, start: int = 0) -> None:
    db.session.add_all(
        Product(
            business_id=business.id,
            sku=f"SKU-{i:04d}",
            name=f"Product {i}",
            category="General",
            quantity_on_hand=i,
            unit_cost_cents=100 + i,
            retail_price_cents=250 + i,
        )
        for i in range(start, start + count)
    )
    db.session.commit()


def histories(**where) -> list[ExportHistory]:
    db.session.expire_all()
    query = select(ExportHistory).order_by(ExportHistory.created_at, ExportHistory.attempt)
    for key, value in where.items():
        query = query.where(getattr(ExportHistory, key) == value)
    return list(db.session.scalars(query))


# ------------------------------------------------------------------ databases for real processes


def _pg_admin_url(url: str) -> str:
    return (
        make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )


def _pg_execute(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_url(url), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def _pg_drop(url: str, name: str) -> None:
    _pg_execute(
        url,
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        f'DROP DATABASE IF EXISTS "{name}"',
    )


def _pg_truncate_all(url: str) -> None:
    import psycopg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        connection.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")


def base_env(tmp: Path, url: str, **extra) -> dict:
    env = dict(os.environ)
    env.pop("TEST_DATABASE_URL", None)
    env.update(
        FLASK_APP="app",
        APP_ENV="development",
        DATABASE_URL=url,
        INSTANCE_PATH=str(tmp / "instance"),
        EXPORT_ROOT=str(tmp / "exports"),
        EXPORT_WORK_DIR=str(tmp),
        MAIL_OUTBOX_DIR=str(tmp / "outbox"),
        SCHEDULER_ENABLED="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


class SharedDatabase:
    """One database that the test process and real child processes use together."""

    def __init__(self, url: str, tmp: Path):
        self.url = url
        self.tmp = tmp
        self.children: list[subprocess.Popen] = []
        self._app = None

    def env(self, **extra) -> dict:
        return base_env(self.tmp, self.url, **extra)

    def app(self, **overrides):
        """An app in this process on the shared database (for seeding and checking)."""
        if self._app is None:
            from config import TestConfig
            from dashboard import create_app

            config = dict(
                SQLALCHEMY_DATABASE_URI=self.url,
                EXPORT_ROOT=str(self.tmp / "exports"),
                MAIL_OUTBOX_DIR=str(self.tmp / "outbox"),
            )
            config.update(overrides)
            self._app = create_app(TestConfig, **config)
        return self._app

    def cli(self, *args: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
        return subprocess.run(
            [FLASK, *args], cwd=ROOT, env=self.env(**env), capture_output=True, text=True, timeout=timeout
        )

    def spawn(self, argv: list[str], *, new_session: bool = False, **env) -> subprocess.Popen:
        """A child process; `new_session` puts it in its own process group (a server with a
        reloader child), so that `stop_group` can end both."""
        child = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )
        self.children.append(child)
        return child

    def worker(self, *args: str, **env) -> subprocess.Popen:
        return self.spawn([PYTHON, WORKER, *args], **env)

    @staticmethod
    def result(child: subprocess.Popen, timeout: float = 120) -> dict:
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, err[-3000:]
        return json.loads(out.strip().splitlines()[-1])

    @staticmethod
    def stop_group(child: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        """Signal a child started with `new_session` and everything in its process group."""
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        for child in self.children:
            if child.poll() is None:
                try:
                    child.send_signal(signal.SIGCONT)
                    child.kill()
                    child.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        if self._app is not None:
            with self._app.app_context():
                db.session.remove()
                db.engine.dispose()


def _fresh_copy(template_url: str, tmp: Path, suffix: str) -> str:
    if TEST_DATABASE_URL:
        name = make_url(TEST_DATABASE_URL).database + f"_mp_{suffix}"
        _pg_drop(TEST_DATABASE_URL, name)
        template = make_url(template_url).database
        _pg_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    path = tmp / f"shared-{suffix}.sqlite3"
    source = sqlite3.connect(make_url(template_url).database)
    target = sqlite3.connect(path)
    with target:
        source.backup(target)
    source.close()
    target.close()
    return f"sqlite:///{path}"


def wait_for(condition, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def count_rows(sql: str, **params) -> int:
    return int(db.session.execute(text(sql), params).scalar() or 0)


# ---- migrations run as an operator runs them ------------------------------------------------------


def flask_db(tmp: Path, url: str, *args: str) -> None:
    """`flask db ARGS` against `url` in a process of its own (Alembic's logging set-up in env.py
    would otherwise switch off this process's loggers)."""
    result = subprocess.run(
        [FLASK, "db", *args], cwd=ROOT, env=base_env(tmp, url), capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr


@contextmanager
def empty_database(tmp: Path, suffix: str):
    """The URL of an empty database to migrate: a SQLite file, or on PostgreSQL a database of its
    own named after TEST_DATABASE_URL's plus `suffix`, dropped afterwards."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp / 'migrated.sqlite3'}"
        return
    name = make_url(TEST_DATABASE_URL).database + suffix
    _pg_drop(TEST_DATABASE_URL, name)
    _pg_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_drop(TEST_DATABASE_URL, name)


def table_as_migrated(engine, table: Table) -> Table:
    """`table` as the database's current revision has it: today's columns (with their Python
    defaults) that the migrated schema holds. Inserting through today's table into an older
    revision would name columns added since."""
    present = {column["name"] for column in inspect(engine).get_columns(table.name)}
    return Table(table.name, MetaData(), *[column._copy() for column in table.c if column.name in present])
