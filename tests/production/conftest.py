"""Fixtures for the production tests: see prodkit.py for the parts (PostgreSQL databases of our own,
a throwaway cluster, moto's S3 server, aiosmtpd, gunicorn instances as real processes)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.production.prodkit import (
    ADMIN_URL,
    AWS_ENV,
    PG_BIN,
    Fleet,
    ProdDatabase,
    S3Server,
    SmtpServer,
    ThrowawayCluster,
    _pg_reachable,
    admin_execute,
    database_url,
    drop_database,
    drop_leftover_databases,
    run_flask,
    seed_template,
)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The machine's PostgreSQL admin URL; skipped (never silently in CI) when it cannot be reached."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {ADMIN_URL} is required in CI: {problem}")
        pytest.skip(f"PostgreSQL at {ADMIN_URL} is not reachable ({problem}); set CI=1 to make this fail")
    return ADMIN_URL


@pytest.fixture(scope="session")
def template_db(pg_server, tmp_path_factory) -> Iterator[str]:
    """One database for the session, migrated with `flask db upgrade` (as on release) and seeded."""
    name = f"test_prod_{os.getpid()}"
    drop_leftover_databases()
    drop_database(name)
    admin_execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    run_flask(["db", "upgrade"], url, {"INSTANCE_PATH": str(tmp_path_factory.mktemp("template-instance"))})
    seed_template(url, tmp_path_factory.mktemp("template-seed"))
    yield name
    drop_database(name)


@pytest.fixture
def prod_db(template_db) -> ProdDatabase:
    """The session's database with no schedules, runs, mail or tokens: the POS data stays.

    Emptying four tables is instant; creating and dropping a database per test costs PostgreSQL a
    checkpoint each (seconds on a busy machine)."""
    database = ProdDatabase(template_db, database_url(template_db))
    database.execute("TRUNCATE mail_messages, export_history, export_schedules, api_tokens CASCADE")
    return database


@pytest.fixture
def throwaway_cluster(pg_server) -> Iterator[ThrowawayCluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"initdb not found under {PG_BIN} (set PG_BIN)")
    cluster = ThrowawayCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    for key, value in AWS_ENV.items():
        os.environ.setdefault(key, value)
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    return s3_server.create_bucket(f"exports-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fleet(tmp_path) -> Iterator[Fleet]:
    group = Fleet(tmp_path)
    yield group
    group.stop_all()
