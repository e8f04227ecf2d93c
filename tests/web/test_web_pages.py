"""Every page: the full page normally, its fragment for htmx (with `Vary: HX-Request`), signed-in
only, owners-only where it must be, another business's objects answering 404, CSRF enforced."""

from __future__ import annotations

import re

import pytest

from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule
from tests.web.web_helpers import PASSWORD, form_data


def _is_full_page(body: str) -> bool:
    return body.lstrip().lower().startswith("<!doctype html>")


PAGES = [
    ("/", "Latest exports"),
    ("/schedules/", "No schedules yet"),
    ("/schedules/new", "Next five runs"),
    ("/history/", "Nothing has run yet"),
    ("/exports/new", "Run export"),
    ("/statistics/", "Runs per day, last 30 days"),
    ("/settings/notifications", "Send these notices to"),
]


def test_each_page_renders_whole_and_as_a_fragment(owner):
    for url, text in PAGES:
        full = owner.get(url)
        assert full.status_code == 200, url
        body = full.get_data(as_text=True)
        assert _is_full_page(body), url
        assert text in body, url
        assert "HX-Request" in full.headers.get("Vary", ""), url

        fragment = owner.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 200, url
        part = fragment.get_data(as_text=True)
        assert not _is_full_page(part), url
        assert 'aria-label="Main"' not in part, url  # no layout around a fragment
        assert text in part, url
        assert "HX-Request" in fragment.headers.get("Vary", ""), url

        # A history restore (back button after htmx pushed the URL) needs the whole page.
        restore = owner.get(url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
        assert _is_full_page(restore.get_data(as_text=True)), url


def test_pages_need_a_signed_in_person(client, tenant):
    for url, _ in PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url


def test_managers_get_403_on_owner_pages(manager):
    for url in ("/statistics/", "/settings/notifications"):
        response = manager.get(url)
        assert response.status_code == 403, url
        assert "owners can open this." in response.get_data(as_text=True)
        assert manager.get(url, headers={"HX-Request": "true"}).status_code == 403


def test_managers_cannot_save_notification_settings(manager):
    response = manager.post("/settings/notifications", data={"from_name": "Sneaky"})
    assert response.status_code == 403


def test_managers_do_not_see_owner_links(manager):
    body = manager.get("/").get_data(as_text=True)
    nav = body.split('aria-label="Main"')[1].split("</nav>")[0]
    assert "Schedules" in nav and "History" in nav and "Export now" in nav
    assert "Statistics" not in nav and "Notifications" not in nav


def test_owners_see_owner_links(owner):
    nav = owner.get("/").get_data(as_text=True).split('aria-label="Main"')[1].split("</nav>")[0]
    assert "/statistics/" in nav and "/settings/notifications" in nav


def test_the_current_page_is_marked_in_the_navigation(owner):
    body = owner.get("/history/").get_data(as_text=True)
    assert re.search(r'href="/history/"\s+aria-current="page"', body)


# --------------------------------------------------------------------------------------------
# Tenant scoping: another business's objects answer 404, exactly like missing ones


@pytest.fixture
def foreign(other_tenant, make_schedule, make_run):
    schedule = make_schedule(other_tenant.business, other_tenant.owner, name="Their schedule")
    run = make_run(other_tenant.business, schedule_id=schedule.id, file_path="exports/x/2026/01/y_z.csv")
    return schedule, run


FOREIGN_SCHEDULE_URLS = [
    ("GET", "/schedules/{s}/edit"),
    ("POST", "/schedules/{s}/edit"),
    ("POST", "/schedules/{s}/activate"),
    ("POST", "/schedules/{s}/deactivate"),
    ("POST", "/schedules/{s}/run"),
    ("POST", "/schedules/{s}/test"),
    ("POST", "/schedules/{s}/delete"),
]
FOREIGN_RUN_URLS = [
    ("GET", "/history/{h}"),
    ("GET", "/history/{h}/row"),
    ("GET", "/history/{h}/status"),
    ("GET", "/history/{h}/download"),
    ("POST", "/history/{h}/rerun"),
]


def test_another_business_objects_are_not_found(owner, foreign):
    schedule, run = foreign
    for method, url in FOREIGN_SCHEDULE_URLS + FOREIGN_RUN_URLS:
        for headers in ({}, {"HX-Request": "true"}):
            for target in (url.format(s=schedule.id, h=run.id), url.format(s="not-a-uuid", h="not-a-uuid")):
                response = owner.open(target, method=method, headers=headers, data={"name": "Mine now"})
                assert response.status_code == 404, (method, target, headers)
    db.session.expire_all()
    same = db.session.get(ExportSchedule, schedule.id)
    assert same is not None and same.name == "Their schedule" and same.is_active
    assert db.session.query(ExportHistory).filter_by(business_id=schedule.business_id).count() == 1


def test_lists_show_only_this_business(owner, tenant, foreign, make_schedule, make_run):
    make_schedule(tenant.business, tenant.owner, name="Our schedule")
    make_run(tenant.business, schedule_name="Our run")
    schedules = owner.get("/schedules/").get_data(as_text=True)
    history = owner.get("/history/").get_data(as_text=True)
    home = owner.get("/").get_data(as_text=True)
    assert "Our schedule" in schedules and "Their schedule" not in schedules
    assert "Our run" in history and "Their schedule" not in history
    assert "Their schedule" not in home


# --------------------------------------------------------------------------------------------
# CSRF (the test config switches it off; here it is on, as in production)


@pytest.fixture
def csrf_client(app_factory):
    """An app of its own with CSRF on, and its owner signed in through the login form."""
    from dashboard.models import Business, Membership, User

    application = app_factory(WTF_CSRF_ENABLED=True)
    client = application.test_client()
    with application.app_context():
        business = Business(name="Careful Shop", timezone="UTC")
        user = User(email="careful@example.com", name="Carla")
        user.set_password(PASSWORD)
        db.session.add_all([business, user, Membership(user=user, business=business, role="owner")])
        db.session.commit()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302
        yield application, client


def _token(client, url: str = "/schedules/new") -> str:
    body = client.get(url).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)


def test_csrf_is_enforced_on_htmx_posts(csrf_client):
    application, client = csrf_client
    with application.app_context():
        refused = client.post("/schedules/new", data=form_data(), headers={"HX-Request": "true"})
        assert refused.status_code == 400
        assert db.session.query(ExportSchedule).count() == 0

        token = _token(client)
        accepted = client.post(
            "/schedules/new", data=form_data(), headers={"HX-Request": "true", "X-CSRFToken": token}
        )
        assert accepted.status_code == 200
        assert accepted.headers["HX-Redirect"] == "/schedules/"
        assert db.session.query(ExportSchedule).count() == 1


def test_csrf_token_is_on_every_page_for_htmx(csrf_client):
    application, client = csrf_client
    with application.app_context():
        for url, _ in PAGES:
            body = client.get(url).get_data(as_text=True)
            assert re.search(r'<body hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'', body), url
