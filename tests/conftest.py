"""Shared fixtures: an app on a real database (SQLite by default, TEST_DATABASE_URL for PostgreSQL),
a client, a CLI runner, factories for businesses and users, and an `auth` helper (flaskr's)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

# A developer's .env must not change what the tests see (here, nor in the processes tests start):
# set before config.py is imported, which otherwise reads .env into the environment.
os.environ["FLASK_SKIP_DOTENV"] = "1"

from flask.globals import _cv_app  # noqa: E402

from config import TestConfig  # noqa: E402
from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import Business, Membership, User

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
PASSWORD = "correct-horse-battery"


def _reset_database() -> None:
    """Empty every table: TRUNCATE on PostgreSQL; SQLite test databases are new for each test."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


_pg_schema_ready = False


class FreshGlobalsPerRequest:
    """WSGI middleware for tests: each request gets a new `g`. A test holds its app's context
    open (the `app` fixture, `with app.app_context()`), and Flask lets a request reuse it, `g`
    included; in production every request has a context of its own. So each request here (test
    client or any WSGI caller, such as schemathesis) starts with an empty `g`, as it would there:
    who is signed in, the membership and the other per-request values are never carried over,
    while the context and its database session stay the test's."""

    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        context = _cv_app.get(None)
        if context is None or context.app is not self.app:
            return self.wsgi_app(environ, start_response)
        held, context.g = context.g, self.app.app_ctx_globals_class()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            context.g = held


@pytest.fixture
def app_factory(tmp_path: Path):
    """Build an app with overrides; the schema is created once (create_all is for tests only)."""
    made = []

    def factory(**overrides):
        global _pg_schema_ready
        config = {
            "EXPORT_ROOT": str(tmp_path / "exports"),
            "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        }
        if TEST_DATABASE_URL:
            config["SQLALCHEMY_DATABASE_URI"] = TEST_DATABASE_URL
        config.update(overrides)
        application = create_app(TestConfig, **config)
        application.wsgi_app = FreshGlobalsPerRequest(application, application.wsgi_app)
        with application.app_context():
            if application.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
                if not _pg_schema_ready:
                    db.drop_all()
                    db.create_all()
                    _pg_schema_ready = True
                _reset_database()
            else:
                db.create_all()
        made.append(application)
        return application

    yield factory
    for application in made:
        with application.app_context():
            db.session.remove()
            _check_history_counts()
            db.engine.dispose()


def _check_history_counts() -> None:
    """Whatever a test did to runs, the trigger-kept counts must still be exact."""
    from sqlalchemy.exc import SQLAlchemyError

    from tests.history_counts_check import counts_mismatch

    try:
        with db.engine.connect() as connection:
            wrong = counts_mismatch(connection)
    except SQLAlchemyError:
        return  # a test that broke its database on purpose (or dropped it) has nothing to check
    assert not wrong, f"export_history_counts disagrees with export_history: {wrong}"


@pytest.fixture
def app(app_factory):
    application = app_factory()
    with application.app_context():
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Factory:
    """Small factories for the objects most tests need."""

    def __init__(self, app):
        self.app = app
        self._n = 0

    def business(self, name: str | None = None, timezone: str = "UTC", currency: str = "USD") -> Business:
        self._n += 1
        business = Business(
            name=name or f"Shop {self._n} {uuid.uuid4().hex[:6]}", timezone=timezone, currency=currency
        )
        db.session.add(business)
        db.session.commit()
        return business

    def user(
        self,
        business: Business | None = None,
        role: str = "owner",
        email: str | None = None,
        password: str = PASSWORD,
        name: str | None = None,
    ) -> User:
        self._n += 1
        email = email or f"user{self._n}-{uuid.uuid4().hex[:6]}@example.com"
        user = User(email=email, name=name or f"User {self._n}")
        user.set_password(password)
        db.session.add(user)
        if business is not None:
            db.session.add(Membership(user=user, business=business, role=role))
        db.session.commit()
        return user

    def member(self, user: User, business: Business, role: str = "manager") -> Membership:
        membership = Membership(user=user, business=business, role=role)
        db.session.add(membership)
        db.session.commit()
        return membership


@pytest.fixture
def factory(app):
    return Factory(app)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = PASSWORD, remember: bool = False):
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return self._client.post("/login", data=data)

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def tenant(factory):
    """A business with an owner and a manager; the usual starting point."""
    business = factory.business("Test Shop", timezone="UTC")
    owner = factory.user(business, role="owner", email="owner@shop-one.example.com", name="Olive Owner")
    manager = factory.user(
        business, role="manager", email="manager@shop-one.example.com", name="Manny Manager"
    )

    class Tenant:
        pass

    t = Tenant()
    t.business, t.owner, t.manager = business, owner, manager
    return t


@pytest.fixture
def other_tenant(factory):
    business = factory.business("Other Shop", timezone="America/New_York")
    owner = factory.user(business, role="owner", email="owner@shop-two.example.com", name="Otto Other")

    class Tenant:
        pass

    t = Tenant()
    t.business, t.owner = business, owner
    return t


@pytest.fixture
def api_token(app):
    """Make a Bearer header for a user in a business."""
    from dashboard.auth.tokens import create_token

    def make(user: User, business: Business) -> dict[str, str]:
        membership = next(m for m in user.memberships if m.business_id == business.id)
        return {"Authorization": f"Bearer {create_token(membership)}"}

    return make


def browser_unavailable(reason: str):
    """Skip a browser test, or fail it when REQUIRE_BROWSER=1 (as in CI)."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser cannot run: {reason}")
    pytest.skip(f"headless Chromium unavailable: {reason}")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (Playwright's sync API allows one per thread)."""
    from tests.browser.browser_helpers import CHROMIUM, CHROMIUM_ARGS

    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the machine
        browser_unavailable(f"playwright is not installed ({exc})")
    if not Path(CHROMIUM).exists():
        browser_unavailable(f"{CHROMIUM} does not exist")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
    except Exception as exc:  # pragma: no cover - depends on the machine
        manager.stop()
        browser_unavailable(str(exc).splitlines()[0] if str(exc) else repr(exc))
    yield chromium
    chromium.close()
    manager.stop()
