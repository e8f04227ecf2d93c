"""One-click unsubscribe (RFC 8058) for outside recipients: the signed page works without signing
in, GET changes nothing, the one-click POST removes the address, audits it and tells the owners
(one notice a day), members are never offered it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.delivery.unsubscribe_links import make_token, unsubscribe_headers
from dashboard.extensions import db
from dashboard.models import AuditLog
from dashboard.models.automation import ExportSchedule
from tests.delivery.conftest import SmtpServer, smtp_config


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(app_factory, smtp):
    application = app_factory(**smtp_config(smtp.port))
    with application.app_context():
        yield application


@pytest.fixture
def shop(factory):
    business = factory.business("Corner Café")
    owner = factory.user(business, role="owner", email="owner@corner-cafe.example.com")
    manager = factory.user(business, role="manager", email="manager@corner-cafe.example.com")
    schedule = ExportSchedule(
        business_id=business.id,
        created_by_id=owner.id,
        name="Monthly sales",
        export_type="SALES",
        format="csv",
        frequency="MONTHLY",
        day_of_month=1,
        timezone="UTC",
        recipients=["Accountant@Example.com", "bookkeeper@example.com", "manager@corner-cafe.example.com"],
    )
    db.session.add(schedule)
    db.session.commit()
    return business, schedule, owner, manager


def test_members_get_no_unsubscribe_headers_outsiders_do(app, shop):
    business, schedule, _owner, manager = shop
    assert unsubscribe_headers(schedule.id, business.id, manager.email) == {}
    headers = unsubscribe_headers(schedule.id, business.id, "accountant@example.com")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<http://localhost/unsubscribe/")
    assert headers["List-Unsubscribe"].endswith(">")
    assert unsubscribe_headers(None, business.id, "accountant@example.com") == {}


def test_get_shows_a_button_and_changes_nothing(app, client, shop):
    _business, schedule, *_ = shop
    response = client.get(f"/unsubscribe/{make_token(schedule.id, 'accountant@example.com')}")
    assert response.status_code == 200
    assert b"Unsubscribe accountant@example.com" in response.data
    assert response.headers["Cache-Control"] == "private, no-store"
    db.session.expire_all()
    assert len(db.session.get(ExportSchedule, schedule.id).recipients) == 3


def test_one_click_post_removes_the_address_audits_and_tells_the_owners_once_a_day(app, client, shop, smtp):
    business, schedule, owner, _manager = shop
    url = f"/unsubscribe/{make_token(schedule.id, 'accountant@example.com')}"
    # What a mail client sends for RFC 8058: a form POST, no cookies, no CSRF token.
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.data
    db.session.expire_all()
    assert db.session.get(ExportSchedule, schedule.id).recipients == [
        "bookkeeper@example.com",
        "manager@corner-cafe.example.com",
    ]
    (entry,) = db.session.scalars(select(AuditLog).where(AuditLog.action == "schedule.unsubscribe")).all()
    assert entry.business_id == business.id
    assert "accountant@example.com" in str(entry.details) and "one-click" in str(entry.details)

    (notice,) = smtp.handler.to(owner.email)
    message = notice.message
    assert message["Subject"] == "accountant@example.com unsubscribed from Monthly sales"
    assert "removed from the recipients" in message.get_body(("plain",)).get_content()
    assert smtp.handler.to("manager@corner-cafe.example.com") == []  # owners only

    # Again: nothing more to remove, no second audit entry, no second mail.
    assert b"Already unsubscribed" in client.post(url, data={"List-Unsubscribe": "One-Click"}).data
    # Another outsider the same day: removed and audited, but the owners get no second notice.
    client.post(f"/unsubscribe/{make_token(schedule.id, 'bookkeeper@example.com')}")
    db.session.expire_all()
    assert db.session.get(ExportSchedule, schedule.id).recipients == ["manager@corner-cafe.example.com"]
    assert (
        len(db.session.scalars(select(AuditLog).where(AuditLog.action == "schedule.unsubscribe")).all()) == 2
    )
    assert len(smtp.handler.to(owner.email)) == 1


@pytest.mark.parametrize("token", ["nonsense", "eyJzIjoiMSJ9.bad"])
def test_a_bad_token_is_a_clear_404_page_and_changes_nothing(app, client, shop, token):
    response = client.post(f"/unsubscribe/{token}")
    assert response.status_code == 404
    assert b"not valid" in response.data
    assert client.get(f"/unsubscribe/{token}").status_code == 404


def test_a_token_for_another_schedule_cannot_remove_from_this_one(app, client, shop, factory):
    _business, schedule, *_ = shop
    other = factory.business()
    foreign = ExportSchedule(
        business_id=other.id,
        name="Theirs",
        export_type="SALES",
        format="csv",
        frequency="DAILY",
        timezone="UTC",
        recipients=["accountant@example.com"],
    )
    db.session.add(foreign)
    db.session.commit()
    client.post(f"/unsubscribe/{make_token(foreign.id, 'accountant@example.com')}")
    db.session.expire_all()
    assert db.session.get(ExportSchedule, foreign.id).recipients == []
    assert "Accountant@Example.com" in db.session.get(ExportSchedule, schedule.id).recipients


def test_the_one_click_post_is_the_only_csrf_exempt_web_view_and_needs_a_valid_token(app_factory, factory):
    """With CSRF on (as in production): the one-click POST works without a token, a forged token
    changes nothing."""
    csrf_app = app_factory(WTF_CSRF_ENABLED=True)
    with csrf_app.app_context():
        business = factory.business()
        schedule = ExportSchedule(
            business_id=business.id,
            name="s",
            export_type="SALES",
            format="csv",
            frequency="DAILY",
            timezone="UTC",
            recipients=["outside@example.com"],
        )
        db.session.add(schedule)
        db.session.commit()
        client = csrf_app.test_client()
        assert (
            client.post("/unsubscribe/forged.token", data={"List-Unsubscribe": "One-Click"}).status_code
            == 404
        )
        response = client.post(
            f"/unsubscribe/{make_token(schedule.id, 'outside@example.com')}",
            data={"List-Unsubscribe": "One-Click"},
        )
        assert response.status_code == 200
        db.session.expire_all()
        assert db.session.get(ExportSchedule, schedule.id).recipients == []


def test_export_mails_to_outsiders_carry_rfc8058_headers_and_a_footer_link_members_do_not(
    app, client, shop, smtp
):
    """A real run mailed through aiosmtpd; the headers read back with Python's e-mail parser, and
    the link they carry, POSTed as a mail client does, removes the address."""
    from email import message_from_bytes, policy

    from dashboard.automation.runner import ScheduledExportRunner

    _business, schedule, _owner, manager = shop
    schedule.filters = {"date_range": "previous_month"}
    db.session.commit()
    history = ScheduledExportRunner().execute_schedule(schedule)
    assert history.status == "EMAILED", history.error_message

    (outside,) = smtp.handler.to("accountant@example.com")
    parsed = message_from_bytes(outside.data, policy=policy.default)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = parsed["List-Unsubscribe"]
    assert link.startswith("<http://localhost/unsubscribe/") and link.endswith(">")
    url = link[1:-1]
    assert url in parsed.get_body(("plain",)).get_content()
    assert url in parsed.get_body(("html",)).get_content()

    (member,) = smtp.handler.to(manager.email)
    member_mail = message_from_bytes(member.data, policy=policy.default)
    assert member_mail["List-Unsubscribe"] is None and member_mail["List-Unsubscribe-Post"] is None
    assert "/unsubscribe/" not in member_mail.get_body(("plain",)).get_content()

    path = url.removeprefix("http://localhost")
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    db.session.expire_all()
    assert "Accountant@Example.com" not in db.session.get(ExportSchedule, schedule.id).recipients
