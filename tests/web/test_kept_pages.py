"""A /history page shown before is kept whole (issue 21), under everything it shows: the frame
(who is signed in, their businesses and role, their form token, the current link) and the table
(its runs' whole content, the pager, the filters). Whatever changes, the page shown is as it is
now; messages to flash are shown once and never kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from jinja2 import Environment, meta

from dashboard.extensions import db
from dashboard.web import kept_pages
from tests.conftest import PASSWORD


def _page(client, path: str = "/history/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _kept_twice(client, path: str = "/history/") -> str:
    """The page, once it is shown from what was kept."""
    _page(client, path)
    hits = kept_pages._PAGES.hits
    body = _page(client, path)
    assert kept_pages._PAGES.hits == hits + 1, "the second visit was rendered again"
    return body


@pytest.fixture
def owner(owner):
    """The owner, signed in, with the sign-in message shown (a page showing it is not kept)."""
    assert "Welcome back" in _page(owner)
    return owner


def test_the_frame_key_names_everything_the_frame_reads(app):
    # A name added to base.html or _nav.html must be added to frame_key (and to FRAME_NAMES).
    # Parsed by a bare environment: the app's would leave out its globals (request, session, g, ...).
    bare, read = Environment(), set()
    for name in ("base.html", "_nav.html"):
        source = app.jinja_loader.get_source(app.jinja_env, name)[0]
        read |= meta.find_undeclared_variables(bare.parse(source))
    assert read == kept_pages.FRAME_NAMES


def test_a_kept_page_is_the_page_rendered(app, owner, tenant, make_run):
    make_run(tenant.business, record_count=4321)
    first = _page(owner)
    kept = _kept_twice(owner)
    assert kept == first and "4,321" in kept and "Welcome back" not in kept
    partial = owner.get("/history/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and "4,321" in partial  # htmx gets its table, never the page


def test_a_run_that_changed_is_shown_as_it_is_now(app, owner, tenant, make_run):
    run = make_run(tenant.business, record_count=120)
    assert "120" in _kept_twice(owner)
    run.record_count = 98765
    db.session.commit()
    assert "98,765" in _kept_twice(owner)
    make_run(tenant.business, record_count=5555)
    body = _kept_twice(owner)
    assert "5,555" in body and "98,765" in body


def test_the_business_timezone_is_part_of_the_key(app, owner, tenant, make_run):
    make_run(tenant.business)
    assert "UTC</time>" in _kept_twice(owner)
    tenant.business.timezone = "Asia/Tokyo"
    db.session.commit()
    assert "JST</time>" in _kept_twice(owner)


def test_the_pager_is_part_of_the_key(app, owner, tenant, make_run):
    start = datetime.now(UTC) - timedelta(days=1)
    for minute in range(21):
        make_run(tenant.business, created_at=start + timedelta(minutes=minute))
    assert "Page 1 of 2 · 21 in all" in _kept_twice(owner)
    make_run(tenant.business, created_at=start - timedelta(days=1))  # on page 2: page 1's rows stay
    assert "Page 1 of 2 · 22 in all" in _kept_twice(owner)


def test_the_filters_chosen_are_part_of_the_key(app, owner, tenant, make_run):
    make_run(tenant.business)  # completed: the same one run with the filter or without
    assert '<option value="COMPLETED" selected>' not in _kept_twice(owner)
    assert '<option value="COMPLETED" selected>' in _kept_twice(owner, "/history/?status=COMPLETED")


def test_a_bad_page_number_is_part_of_the_key(app, owner, tenant, make_run):
    make_run(tenant.business)
    assert "This filter was ignored" not in _kept_twice(owner)
    assert "This filter was ignored" in _kept_twice(owner, "/history/?page=abc")


def test_the_schedules_to_filter_by_are_as_they_are_now(app, owner, tenant, make_run, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner, name="Weekly sales")
    make_run(tenant.business)
    assert ">Weekly sales</option>" in _kept_twice(owner)
    schedule.name = "Monday sales"
    db.session.commit()
    body = _kept_twice(owner)
    assert ">Monday sales</option>" in body and "Weekly sales" not in body


def test_the_signed_in_name_is_as_it_is_now(app, owner, tenant, make_run):
    make_run(tenant.business, user_id=tenant.manager.id)  # the runs do not show the owner's name
    assert "Olive Owner" in _kept_twice(owner)
    tenant.owner.name = "Olive Renamed"
    db.session.commit()
    body = _kept_twice(owner)
    assert "Olive Renamed" in body and "Olive Owner" not in body


def test_the_business_and_the_businesses_to_switch_to_are_as_they_are_now(app, owner, tenant, factory):
    assert ">Test Shop<" in _kept_twice(owner)
    tenant.business.name = "Renamed Shop"
    db.session.commit()
    body = _kept_twice(owner)
    assert ">Renamed Shop<" in body and "Test Shop" not in body

    other = factory.business("Second Shop")
    factory.member(tenant.owner, other, role="manager")
    assert ">Second Shop</option>" in _kept_twice(owner)
    other.name = "Another Shop"  # not the business the page is for: only the switcher shows it
    db.session.commit()
    body = _kept_twice(owner)
    assert ">Another Shop</option>" in body and "Second Shop" not in body


def test_switching_between_two_businesses_shows_the_one_switched_to(app, owner, tenant, factory):
    other = factory.business("Second Shop")  # no runs in either: the same table
    factory.member(tenant.owner, other, role="owner")
    for business in (other, tenant.business, other):
        assert owner.post("/switch-business", data={"business_id": str(business.id)}).status_code in (
            302,
            303,
        )
        _page(owner)  # the "Switched business." message
        body = _kept_twice(owner)
        assert f'<option value="{business.id}" selected>' in body


def test_the_role_is_as_it_is_now(app, owner, tenant):
    body = _kept_twice(owner)
    assert ">Owner<" in body and 'href="/people/"' in body
    membership = tenant.owner.memberships[0]
    membership.role = "manager"
    db.session.commit()
    body = _kept_twice(owner)
    assert ">Manager<" in body and 'href="/people/"' not in body


def test_two_sessions_of_one_person_each_get_their_own_form_token(app, tenant):
    tokens = []
    for _ in range(2):
        client = app.test_client()
        assert (
            client.post("/login", data={"email": tenant.owner.email, "password": PASSWORD}).status_code == 302
        )
        _page(client)
        tokens.append(set(re.findall(r'name="csrf_token" value="([^"]+)"', _kept_twice(client))))
    assert len(tokens[0]) == 1 and len(tokens[1]) == 1 and tokens[0] != tokens[1]


def test_the_current_page_is_part_of_the_frame_key(app, owner, tenant):
    keys = []
    for path in ("/history/", "/schedules/"):
        with app.test_request_context(
            path,
            headers={"Cookie": owner.get_cookie("session").key + "=" + owner.get_cookie("session").value},
        ):
            app.preprocess_request()
            keys.append(kept_pages.frame_key())
    assert None not in keys and keys[0] != keys[1]


def test_a_message_to_flash_is_shown_once_and_never_kept(app, owner, tenant, make_run):
    make_run(tenant.business)
    _kept_twice(owner)
    with owner.session_transaction() as session:
        session["_flashes"] = [("success", "Saved the schedule.")]
    assert "Saved the schedule." in _page(owner)
    assert "Saved the schedule." not in _kept_twice(owner)


def test_the_current_link_and_the_filters_are_part_of_the_key(app, owner, tenant, make_run):
    make_run(tenant.business, status="FAILED", error_message="The database did not answer.")
    make_run(tenant.business, record_count=77)
    everything = _kept_twice(owner)
    failed = _kept_twice(owner, "/history/?status=FAILED")
    assert "77" in everything and 'aria-current="page">History' in everything
    assert '<option value="FAILED" selected>' in failed and "77</td>" not in failed
    assert '<option value="FAILED" selected>' not in _page(owner)


def test_each_person_gets_their_own_kept_page(app, tenant, make_run):
    make_run(tenant.business)
    tokens = []
    for email in (tenant.owner.email, tenant.manager.email):
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
        assert "Welcome back" in _page(client)
        body = _kept_twice(client)
        tokens.append(set(re.findall(r'name="csrf_token" value="([^"]+)"', body)))
        assert (">Owner<" in body) == (email == tenant.owner.email)
    assert len(tokens[0]) == 1 and len(tokens[1]) == 1 and tokens[0] != tokens[1]


def test_size_zero_keeps_no_page(app, owner, tenant, make_run):
    app.config["HISTORY_CACHE_PAGES"] = 0
    make_run(tenant.business)
    for _ in range(3):
        _page(owner)
    assert len(kept_pages._PAGES) == 0
