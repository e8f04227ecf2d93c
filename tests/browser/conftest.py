"""Browser tests: the real app served on 127.0.0.1 in a thread, driven by Debian's headless Chromium.

The app runs on a file SQLite database under a temporary folder (so the server's threads and the
export workers share it), with CSRF switched ON: the browser goes through the real login page and
sends the token htmx puts on every request. Exports run on the runner's real worker threads
(EXPORT_SYNC off), so a run is seen PENDING/PROCESSING and then finished, without a reload.

If Chromium or Playwright cannot start, the tests are skipped, unless REQUIRE_BROWSER=1 (as in CI),
in which case they fail.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from config import TestConfig
from tests.browser.browser_helpers import DESKTOP, PASSWORD


@dataclass
class People:
    owner_email: str
    manager_email: str
    other_owner_email: str
    business_name: str


@dataclass
class LiveServer:
    url: str
    app: object
    people: People

    def app_context(self):
        return self.app.app_context()


def _seed(app) -> People:
    from dashboard import demo
    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User

    with app.app_context():
        db.create_all()
        # Enough sales that a run takes a moment (its progress is visible) but stays quick.
        demo.seed_business("Browser Bakery", sales=3000, timezone="Europe/London", slug="browser-bakery")
        demo.seed_business("Elsewhere Ltd", sales=60, timezone="America/New_York", slug="elsewhere")
        bakery = db.session.query(Business).filter_by(name="Browser Bakery").one()
        elsewhere = db.session.query(Business).filter_by(name="Elsewhere Ltd").one()
        people = People(
            owner_email="olivia.owner@bakery.example.com",
            manager_email="marco.manager@bakery.example.com",
            other_owner_email="otto@elsewhere.example.com",
            business_name=bakery.name,
        )
        for email, name, business, role in (
            (people.owner_email, "Olivia Owner", bakery, "owner"),
            (people.manager_email, "Marco Manager", bakery, "manager"),
            (people.other_owner_email, "Otto Other", elsewhere, "owner"),
        ):
            user = User(email=email, name=name)
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.add(Membership(user=user, business=business, role=role))
        db.session.commit()
    return people


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from dashboard import create_app
    from dashboard.extensions import db

    root = tmp_path_factory.mktemp("live")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{root / 'browser.sqlite3'}",
        EXPORT_ROOT=str(root / "exports"),
        MAIL_OUTBOX_DIR=str(root / "outbox"),
        WTF_CSRF_ENABLED=True,
        EXPORT_SYNC=False,
        EXPORT_WORKERS=2,
    )
    people = _seed(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url=url, app=app, people=people)
    server.shutdown()
    thread.join(timeout=5)
    from dashboard.automation import executor

    executor.shutdown(wait=True, app=app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def context(browser, live_server):
    ctx = browser.new_context(base_url=live_server.url, viewport=DESKTOP, accept_downloads=True)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    # A script error (a CSP violation, htmx failing to load) would make swaps silently not happen.
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and "Content Security Policy" in msg.text else None
        ),
    )
    # hx-confirm asks through window.confirm: accept, as a person meaning it would.
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
