"""Rotating SECRET_KEY (issue 15, item 8): with the old key in SECRET_KEY_FALLBACKS, sessions,
remember-me cookies and the signed download links in mails keep working; once the old key is
removed from it, they stop. docs/deploy.md describes the rotation; config.py must read it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.storage.links import make_download_url
from tests.conftest import PASSWORD, TEST_DATABASE_URL, Factory
from tests.security.security_helpers import build_world

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = "old-key-" + "a" * 40, "new-key-" + "b" * 40


def test_secret_key_fallbacks_is_read_from_the_environment_comma_separated():
    env = {**os.environ, "SECRET_KEY_FALLBACKS": f" {OLD}, older-key ,,", "APP_ENV": "production"}
    env["SECRET_KEY"] = NEW
    code = (
        "from config import config_for_environment as c; from dashboard import create_app;"
        "app = create_app(c()); print(repr(app.config['SECRET_KEY_FALLBACKS']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == repr([OLD, "older-key"])


@pytest.fixture
def rotation(app_factory, tmp_path):
    """Apps over one database: the old key; the new key with the old one as a fallback; the new
    key alone. With the old one, the owner signs in (kept signed in) and a download link is made."""
    shared = {"EXPORT_ROOT": str(tmp_path / "exports")}
    if not TEST_DATABASE_URL:
        shared["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'rotation.sqlite3'}"
    old = app_factory(SECRET_KEY=OLD, **shared)
    rotating = app_factory(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD], **shared)
    rotated = app_factory(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[], **shared)
    with old.app_context():
        world = build_world(old, Factory(old))
        link = make_download_url(world.a.run).removeprefix(old.config["BASE_URL"])
        email = world.a.owner.email
    browser = old.test_client()
    assert (
        browser.post("/login", data={"email": email, "password": PASSWORD, "remember": "y"}).status_code
        == 302
    )
    cookies = {name: browser.get_cookie(name).value for name in ("session", "remember_token")}
    return old, rotating, rotated, cookies, link


def _holding(app, name: str, value: str):
    client = app.test_client()
    client.set_cookie(name, value)
    return client


def test_a_rotated_key_keeps_old_sessions_remember_cookies_and_links_working(rotation):
    _, rotating, _, cookies, link = rotation
    assert _holding(rotating, "session", cookies["session"]).get("/").status_code == 200
    remembered = _holding(rotating, "remember_token", cookies["remember_token"])
    assert remembered.get("/").status_code == 200
    # The renewed cookie is signed with the new key: it outlives the old key's removal.
    renewed = remembered.get_cookie("remember_token")
    assert renewed is not None and renewed.value != cookies["remember_token"]
    page = rotating.test_client().get(link)
    assert page.status_code == 200
    assert rotating.test_client().get(link + "/file").status_code == 200


def test_new_links_and_cookies_are_signed_with_the_new_key(rotation):
    _, rotating, rotated, _, _ = rotation
    with rotating.app_context():
        from dashboard.extensions import db
        from dashboard.models import ExportHistory

        run = db.session.query(ExportHistory).filter(ExportHistory.file_path != "").first()
        link = make_download_url(run).removeprefix(rotating.config["BASE_URL"])
    assert rotated.test_client().get(link).status_code == 200


def test_removing_the_old_key_ends_its_sessions_cookies_and_links(rotation):
    _, _, rotated, cookies, link = rotation
    assert _holding(rotated, "session", cookies["session"]).get("/").status_code == 302
    assert _holding(rotated, "remember_token", cookies["remember_token"]).get("/").status_code == 302
    assert rotated.test_client().get(link).status_code == 404
    assert rotated.test_client().get(link + "/file").status_code == 404


def test_production_refuses_the_development_key_as_a_fallback():
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": NEW}
    env["SECRET_KEY_FALLBACKS"] = "dev-not-secret-change-me"
    code = "from config import config_for_environment as c; from dashboard import create_app; create_app(c())"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SECRET_KEY_FALLBACKS must not hold the development key" in result.stderr
