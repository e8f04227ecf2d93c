"""Fixtures for the runner's tests (helpers in runner_helpers.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from tests.automation.runner_helpers import (
    FLASK,
    ROOT,
    TEST_DATABASE_URL,
    SharedDatabase,
    _fresh_copy,
    _pg_drop,
    _pg_execute,
    _pg_truncate_all,
    add_products,
    base_env,
)


@pytest.fixture
def shop(app):
    """A business with an owner and a manager (no passwords: hashing is slow and not needed
    here) and 25 products, so an INVENTORY export has rows."""
    from types import SimpleNamespace

    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User

    business = Business(name="Runner Shop", timezone="UTC", currency="USD")
    owner = User(email="owner@runner-shop.example.com", name="Olive Owner")
    manager = User(email="manager@runner-shop.example.com", name="Manny Manager")
    db.session.add_all(
        [
            business,
            owner,
            manager,
            Membership(user=owner, business=business, role="owner"),
            Membership(user=manager, business=business, role="manager"),
        ]
    )
    db.session.commit()
    add_products(business)
    return SimpleNamespace(business=business, owner=owner, manager=manager)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """A database migrated with the real `flask db upgrade`, copied for each test that needs one."""
    import subprocess

    tmp = tmp_path_factory.mktemp("template")
    if TEST_DATABASE_URL:
        name = make_url(TEST_DATABASE_URL).database + "_mp_tpl"
        _pg_drop(TEST_DATABASE_URL, name)
        _pg_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp / 'template.sqlite3'}"
    result = subprocess.run(
        [FLASK, "db", "upgrade"],
        cwd=ROOT,
        env=base_env(tmp, url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    yield url
    if TEST_DATABASE_URL:
        _pg_drop(TEST_DATABASE_URL, make_url(url).database)


@pytest.fixture(scope="session")
def _pg_shared_url(migrated_template, tmp_path_factory):
    """PostgreSQL: one copy of the template for the whole session, emptied before each test
    (DROP DATABASE costs a checkpoint, seconds; TRUNCATE costs milliseconds)."""
    if not TEST_DATABASE_URL:
        yield None
        return
    url = _fresh_copy(migrated_template, tmp_path_factory.mktemp("pg"), "fn")
    yield url
    _pg_drop(TEST_DATABASE_URL, make_url(url).database)


@pytest.fixture
def shared_db(migrated_template, _pg_shared_url, tmp_path):
    """An empty migrated database for real processes and this one to share."""
    if _pg_shared_url:
        _pg_truncate_all(_pg_shared_url)
        url = _pg_shared_url
    else:
        url = _fresh_copy(migrated_template, tmp_path, "fn")
    database = SharedDatabase(url, tmp_path)
    yield database
    database.close()
