"""Addresses whose local part needs SMTPUTF8 (issue 15, item 7).

Finding: "`müller@example.com` is accepted, then fails with UnicodeEncodeError on every send for
48 h". Chosen fix: such an address is refused when saved, with a clear message (many relays do not
offer SMTPUTF8, and a message built for one that does is no use to one that does not); an address
of that form already stored is recorded as a permanent failure at the first send, never retried,
whichever server is configured. Both servers are tested: aiosmtpd with and without SMTPUTF8."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.core.errors import ValidationError
from dashboard.delivery import deliver_run_result, process_outbox
from dashboard.extensions import db
from dashboard.models import MailMessage
from dashboard.models.automation import ExportHistory
from dashboard.models.types import utcnow
from dashboard.services import notifications as notification_service
from dashboard.services import schedules as schedule_service
from tests.delivery.conftest import SmtpServer

UNICODE_LOCAL = "müller@example.com"


@pytest.fixture(params=[False, True], ids=["server-without-smtputf8", "server-with-smtputf8"])
def smtp(request):
    server = SmtpServer(smtputf8=request.param).start()
    yield server
    server.stop()


def schedule_payload(recipients: list[str]) -> dict:
    return {
        "name": "Daily sales",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 8,
        "recipients": recipients,
        "filters": {"date_range": "yesterday"},
    }


def test_an_address_needing_smtputf8_is_refused_when_saved(app, tenant):
    with pytest.raises(ValidationError) as caught:
        schedule_service.create_schedule(tenant.business, tenant.owner, schedule_payload([UNICODE_LOCAL]))
    message = " ".join(caught.value.errors["recipients"])
    assert UNICODE_LOCAL in message and "before the @" in message
    with pytest.raises(ValidationError) as caught:
        notification_service.update_settings(tenant.business, tenant.owner, {"reply_to_email": UNICODE_LOCAL})
    assert "before the @" in " ".join(caught.value.errors["reply_to_email"])
    # A non-ASCII domain is fine: it has an ASCII form (IDNA) that every server takes.
    schedule = schedule_service.create_schedule(
        tenant.business, tenant.owner, schedule_payload(["sales@bücher.example.com"])
    )
    assert schedule.recipients == ["sales@bücher.example.com"]


def test_a_stored_legacy_address_fails_for_good_at_once_and_the_others_are_delivered(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=[UNICODE_LOCAL, "ok@example.com"])
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    assert [r.rcpt_tos for r in smtp.received] == [["ok@example.com"]]
    row = db.session.scalar(select(MailMessage).where(MailMessage.recipient == UNICODE_LOCAL))
    assert row.status == "failed" and row.next_attempt_at is None
    assert "SMTPUTF8" in row.last_error
    # Not retried later (the old code retried it, and everything queued behind it, for 48 h).
    for hours in (1, 6, 47):
        process_outbox(utcnow() + timedelta(hours=hours))
    db.session.expire_all()
    row = db.session.get(MailMessage, row.id)
    assert row.status == "failed" and row.attempts <= 1
    assert [r.rcpt_tos for r in smtp.received] == [["ok@example.com"]]
    entry = next(
        d for d in db.session.get(ExportHistory, history.id).email_delivery if d["email"] == UNICODE_LOCAL
    )
    assert entry["accepted"] is False and "SMTPUTF8" in entry["error"]
