"""The schedule form's destinations part: add, save (secrets encrypted, never rendered back),
errors beside the row, remove, "send a test" per saved destination, the file password."""

from __future__ import annotations

import re

import pytest
from werkzeug.datastructures import MultiDict

from dashboard.extensions import db
from dashboard.models.automation import ExportSchedule
from dashboard.services.destinations import plain_config
from dashboard.services.protection import file_password_of
from tests.web.web_helpers import HX, form_data

from .test_webhook import SECRET


@pytest.fixture
def app(app_factory):
    application = app_factory(DESTINATIONS_ALLOW_PRIVATE=True, DESTINATIONS_TIMEOUT_SECONDS=2)
    with application.app_context():
        yield application


@pytest.fixture
def signed_in(client, auth, tenant):
    auth.login(tenant.owner.email)
    return client


def with_rows(rows: list[dict], **extra) -> MultiDict:
    data = MultiDict(form_data(**extra))
    data.add("destinations_present", "1")
    for key, row in rows:
        data.add("destinations", key)
        for name, value in row.items():
            data.add(f"destinations-{key}-{name}", value)
    return data


def test_a_new_row_comes_as_a_fragment_for_each_kind(signed_in):
    for kind in ("webhook", "slack", "teams", "sftp", "s3"):
        response = signed_in.get(f"/schedules/destinations/row?new_destination_kind={kind}", headers=HX)
        assert response.status_code == 200
        assert f'data-destination-kind="{kind}"' in response.get_data(as_text=True)
    assert signed_in.get("/schedules/destinations/row?kind=fax", headers=HX).status_code == 404


def test_the_form_saves_destinations_and_never_shows_a_secret_again(signed_in, receiver):
    page = signed_in.get("/schedules/new").get_data(as_text=True)
    assert 'id="destinations"' in page and "Add a destination" in page
    rows = [
        ("a1", {"kind": "webhook", "url": receiver.url, "secret": SECRET}),
        ("b2", {"kind": "slack", "url": receiver.url}),
    ]
    response = signed_in.post("/schedules/new", data=with_rows(rows, file_password="a long passphrase"))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    schedule = db.session.query(ExportSchedule).one()
    assert [d["kind"] for d in schedule.destinations] == ["webhook", "slack"]
    assert plain_config(schedule.destinations[0])["secret"] == SECRET
    assert file_password_of(schedule) == "a long passphrase"

    edit = signed_in.get(f"/schedules/{schedule.id}/edit").get_data(as_text=True)
    assert SECRET not in edit and "a long passphrase" not in edit
    assert edit.count("Set (stored encrypted).") == 2  # the webhook secret and the Slack URL
    assert "A password is set" in edit
    assert edit.count("Send a test") == 2
    assert receiver.url in edit  # the webhook URL is not a secret

    # Saved again with every secret left empty (as the page renders them): all kept.
    ids = re.findall(r'name="destinations-([0-9a-f]+)-id" value="([^"]+)"', edit)
    kept = [
        (key, {"kind": kind, "id": dest_id})
        for (key, dest_id), kind in zip(ids, ["webhook", "slack"], strict=True)
    ]
    kept[0][1]["url"] = receiver.url
    response = signed_in.post(f"/schedules/{schedule.id}/edit", data=with_rows(kept))
    assert response.status_code in (302, 303)
    db.session.refresh(schedule)
    assert plain_config(schedule.destinations[0])["secret"] == SECRET
    assert plain_config(schedule.destinations[1])["url"] == receiver.url
    assert file_password_of(schedule) == "a long passphrase"

    # Removing the Slack row (and the password) saves one destination.
    response = signed_in.post(
        f"/schedules/{schedule.id}/edit", data=with_rows(kept[:1], remove_file_password="y")
    )
    assert response.status_code in (302, 303)
    db.session.refresh(schedule)
    assert [d["kind"] for d in schedule.destinations] == ["webhook"] and schedule.file_password == ""


def test_errors_show_beside_the_row_and_nothing_is_saved(signed_in):
    rows = [("c3", {"kind": "webhook", "url": "ftp://example.com/x", "secret": "s"})]
    response = signed_in.post("/schedules/new", data=with_rows(rows), headers=HX)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Only https:// addresses are allowed." in text or "not a valid" in text.lower()
    assert 'data-destination-kind="webhook"' in text  # the row is drawn again, with its URL
    assert "ftp://example.com/x" in text and 'value="s"' not in text
    assert db.session.query(ExportSchedule).count() == 0


def test_send_a_test_from_the_form(signed_in, receiver, tenant):
    rows = [("d4", {"kind": "teams", "url": receiver.url})]
    signed_in.post("/schedules/new", data=with_rows(rows))
    schedule = db.session.query(ExportSchedule).one()
    destination_id = schedule.destinations[0]["id"]
    response = signed_in.post(f"/schedules/{schedule.id}/destinations/{destination_id}/test", headers=HX)
    assert response.status_code == 200
    assert 'data-test-delivered="true"' in response.get_data(as_text=True)
    assert len(receiver.received) == 1 and "[Test]" in receiver.received[0].body.decode()
    receiver.script = [500]
    failed = signed_in.post(f"/schedules/{schedule.id}/destinations/{destination_id}/test", headers=HX)
    assert 'data-test-delivered="false"' in failed.get_data(as_text=True)
    assert "answered 500" in failed.get_data(as_text=True)
