"""The outbox's bookkeeping: recovery of runs that finished without their mail, the seed's
EmailDeliveryService methods, dedupe keys, and the mailer's classification of answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.delivery import deliver_run_result, dispatch, email_channel, process_outbox
from dashboard.delivery.email_channel import EmailDeliveryService
from dashboard.delivery.mailer import PERMANENT, TRANSIENT, classify_code, clean_header, format_address
from dashboard.delivery.outbox import dedupe_key
from dashboard.extensions import db
from dashboard.models import MailMessage
from dashboard.models.automation import STATUS_EMAILED
from dashboard.models.types import utcnow


def test_a_run_that_finished_without_its_mail_is_picked_up_by_the_outbox(smtp, tenant, runs):
    """The process died between the runner's final commit and deliver_run_result."""
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    finished = utcnow() - timedelta(minutes=10)
    history = runs.completed(tenant.business, schedule, completed_at=finished)
    too_recent = runs.completed(tenant.business, schedule, completed_at=utcnow())  # the runner's turn
    too_old = runs.completed(tenant.business, schedule, completed_at=utcnow() - timedelta(days=2))
    dispatch._recovery_seen.clear()

    summary = process_outbox()
    assert summary["recovered"] == 1 and summary["sent"] == 1
    assert [r.rcpt_tos for r in smtp.received] == [["a@example.com"]]
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED
    for other in (too_recent, too_old):
        db.session.refresh(other)
        assert other.status == "COMPLETED"
    assert process_outbox()["recovered"] == 0
    assert len(smtp.received) == 1


def test_deliver_run_result_never_raises(tenant, runs, monkeypatch):
    history = runs.completed(tenant.business, runs.schedule(tenant.business, tenant.owner))

    def broken(*args, **kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(email_channel, "render_export_mail", broken)
    deliver_run_result(history.id)  # logged, not raised: the export stays COMPLETED
    db.session.refresh(history)
    assert history.status == "COMPLETED"
    deliver_run_result(__import__("uuid").uuid4())  # an unknown id is ignored


def test_the_seeds_service_methods(smtp, tenant, runs):
    service = EmailDeliveryService()
    history = runs.completed(tenant.business, None)
    results = service.send_export_email(history, ["x@example.com", "X@example.com", "y@example.com"])
    assert [(r["email"], r["accepted"]) for r in results] == [
        ("x@example.com", True),
        ("y@example.com", True),
    ]
    assert service.send_export_email(history, ["x@example.com"]) == results  # nobody twice
    failed = runs.failed(tenant.business, None, user_id=tenant.manager.id)
    alerts = service.send_failure_notification(failed, ["ops@example.com"], "Disk full")
    assert alerts == [{"email": "ops@example.com", "accepted": True, "error": None}]
    assert service._get_content_type("pdf") == "application/pdf"
    assert len(smtp.received) == 3


def test_dedupe_keys_ignore_case_and_stay_within_the_column():
    assert dedupe_key("export", "h1", recipient="Boss@Example.com") == "export:h1:boss@example.com"
    long_address = "a" * 240 + "@example.com"
    key = dedupe_key("export", "0" * 36, recipient=long_address)
    assert len(key) <= 255 and key == dedupe_key("export", "0" * 36, recipient=long_address.upper())


def test_rows_keep_their_message_id_and_order(tenant, runs):
    schedule = runs.schedule(
        tenant.business,
        tenant.owner,
        recipients=[f"r{i}@example.com" for i in range(8)],
        include_creator_email=False,
    )
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    rows = db.session.scalars(select(MailMessage).order_by(MailMessage.created_at)).all()
    assert [r.recipient for r in rows] == [f"r{i}@example.com" for i in range(8)]
    assert len({r.message_id for r in rows}) == 8
    assert all(r.message_id.startswith("<") and r.message_id.endswith("@example.com>") for r in rows)
    db.session.refresh(history)
    assert history.email_recipients == [f"r{i}@example.com" for i in range(8)]


@pytest.mark.nodb
@pytest.mark.parametrize(
    "code, outcome",
    [(421, TRANSIENT), (450, TRANSIENT), (452, TRANSIENT), (550, PERMANENT), (554, PERMANENT)],
)
def test_reply_codes_are_classified(code, outcome):
    assert classify_code(code) == outcome


@pytest.mark.nodb
def test_header_values_lose_line_breaks_and_names_are_quoted():
    assert clean_header("Weekly\r\nBcc: x@example.com\x00") == "Weekly Bcc: x@example.com"
    assert format_address('Café "Bar", Inc', "x@example.com") == '"Café \\"Bar\\", Inc" <x@example.com>'
    assert format_address("", "x@example.com") == "x@example.com"
