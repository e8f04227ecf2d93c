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
    TEMPLATE_DB,
    Fleet,
    ProdDatabase,
    S3Server,
    SmtpServer,
    ThrowawayCluster,
    _pg_reachable,
    admin_execute,
    database_url,
    drop_database,
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
    """A database migrated with `flask db upgrade` (as on release) and seeded once; tests copy it."""
    drop_database(TEMPLATE_DB)
    admin_execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    url = database_url(TEMPLATE_DB)
    run_flask(["db", "upgrade"], url, {"INSTANCE_PATH": str(tmp_path_factory.mktemp("template-instance"))})
    seed_template(url, tmp_path_factory.mktemp("template-seed"))
    yield TEMPLATE_DB
    drop_database(TEMPLATE_DB)


@pytest.fixture
def prod_db(template_db, request) -> Iterator[ProdDatabase]:
    """A fresh copy of the template for one test, dropped afterwards."""
    name = f"test_prod_{request.node.name[:30].lower().replace('[', '_').replace(']', '')}_{uuid.uuid4().hex[:6]}"
    admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield ProdDatabase(name, database_url(name))
    drop_database(name)


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
