"""Mail that is never lost and never sent twice: SMTP down, a black hole, 4xx and 5xx answers, a
connection that breaks after the message went out, crashes mid-send, and concurrent senders."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from dashboard.delivery import deliver_run_result, process_outbox
from dashboard.delivery.outbox import KIND_EXPORT, enqueue
from dashboard.delivery.outbox import claim as _claim
from dashboard.delivery.policy import sending_lease
from dashboard.delivery.render import render_export_mail
from dashboard.extensions import db
from dashboard.models.automation import (
    MAIL_FAILED,
    MAIL_PENDING,
    MAIL_SENDING,
    MAIL_SENT,
    STATUS_COMPLETED,
    STATUS_EMAILED,
    ExportHistory,
    MailMessage,
)
from dashboard.models.pos import Business
from dashboard.models.types import utcnow
from dashboard.services.notifications import get_settings as notification_settings


def rows_for(history) -> list[MailMessage]:
    return list(
        db.session.scalars(
            select(MailMessage)
            .where(MailMessage.history_id == history.id)
            .order_by(MailMessage.created_at)
            .execution_options(populate_existing=True)
        )
    )


def test_smtp_down_then_back_delivers_once_and_the_run_becomes_emailed(smtp_port, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com", "b@example.com"])
    history = runs.completed(tenant.business, schedule)

    deliver_run_result(history.id)  # nothing listens on the port: connection refused

    db.session.refresh(history)
    assert history.status == STATUS_COMPLETED  # the export is not failed by its mail
    assert history.email_sent is False
    assert [d["email"] for d in history.email_delivery] == ["a@example.com", "b@example.com"]
    assert not any(d["accepted"] for d in history.email_delivery)
    assert all("refused the connection" in d["error"] for d in history.email_delivery)
    rows = rows_for(history)
    assert {r.status for r in rows} == {MAIL_PENDING}
    assert all(r.next_attempt_at > utcnow() for r in rows)
    message_ids = {r.recipient: r.message_id for r in rows}

    # Still down at the next poll, before the backoff: nothing is attempted.
    assert process_outbox()["sent"] == 0

    server = smtp_port.start()
    summary = process_outbox(utcnow() + timedelta(hours=1))
    assert summary["sent"] == 2
    assert process_outbox(utcnow() + timedelta(days=1))["sent"] == 0
    deliver_run_result(history.id)  # a late duplicate call changes nothing

    assert sorted(r.rcpt_tos[0] for r in server.received) == ["a@example.com", "b@example.com"]
    assert {r.message["Message-ID"] for r in server.received} == set(message_ids.values())
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED
    assert history.email_sent is True
    assert all(d["accepted"] and d["error"] is None for d in history.email_delivery)


def test_black_hole_fails_within_mail_timeout_and_schedules_a_retry(black_hole, tenant, runs, app):
    assert app.config["MAIL_TIMEOUT"] == 1
    schedule = runs.schedule(
        tenant.business, tenant.owner, recipients=["a@example.com", "b@example.com", "c@example.com"]
    )
    history = runs.completed(tenant.business, schedule)

    started = time.monotonic()
    deliver_run_result(history.id)
    elapsed = time.monotonic() - started

    # One connection attempt for the whole run: the other recipients wait with it.
    assert elapsed < 1 + 1.5, elapsed
    db.session.refresh(history)
    assert history.status == STATUS_COMPLETED
    rows = rows_for(history)
    assert [r.status for r in rows] == [MAIL_PENDING] * 3
    assert rows[0].attempts == 1 and rows[1].attempts == 0
    assert all("did not answer within 1 s" in r.last_error for r in rows), [r.last_error for r in rows]
    assert all(r.next_attempt_at > utcnow() + timedelta(seconds=30) for r in rows)
    assert all("did not answer" in d["error"] for d in history.email_delivery)


def test_550_is_recorded_and_never_retried(smtp, tenant, runs):
    smtp.handler.refuse.add("gone@example.com")
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["gone@example.com", "ok@example.com"])
    history = runs.completed(tenant.business, schedule)

    deliver_run_result(history.id)
    for days in (1, 2, 5):
        process_outbox(utcnow() + timedelta(days=days))

    assert [r.rcpt_tos for r in smtp.received] == [["ok@example.com"]]
    rows = {r.recipient: r for r in rows_for(history)}
    assert rows["gone@example.com"].status == MAIL_FAILED
    assert rows["gone@example.com"].attempts == 1
    assert rows["gone@example.com"].next_attempt_at is None
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED  # accepted for one recipient
    delivery = {d["email"]: d for d in history.email_delivery}
    assert delivery["ok@example.com"] == {"email": "ok@example.com", "accepted": True, "error": None}
    assert delivery["gone@example.com"]["accepted"] is False
    assert delivery["gone@example.com"]["error"].startswith("550 5.1.1")


def test_every_recipient_refused_leaves_the_run_completed_with_the_errors(smtp, tenant, runs):
    smtp.handler.refuse.update({"x@example.com", "y@example.com"})
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["x@example.com", "y@example.com"])
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    db.session.refresh(history)
    assert history.status == STATUS_COMPLETED
    assert history.email_sent is False
    assert all(not d["accepted"] and "550" in d["error"] for d in history.email_delivery)


def test_4xx_is_retried_with_backoff_until_accepted(smtp, tenant, runs):
    smtp.handler.defer.add("busy@example.com")
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["busy@example.com"])
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    (row,) = rows_for(history)
    assert row.status == MAIL_PENDING and row.last_error.startswith("451")
    first_wait = row.next_attempt_at - utcnow()

    process_outbox(row.next_attempt_at + timedelta(seconds=1))  # still 451: waits longer now
    (row,) = rows_for(history)
    assert row.attempts == 2 and row.status == MAIL_PENDING
    second_wait = row.next_attempt_at - utcnow()
    assert second_wait > first_wait

    smtp.handler.defer.clear()
    process_outbox(row.next_attempt_at + timedelta(seconds=1))
    (row,) = rows_for(history)
    assert row.status == MAIL_SENT and row.attempts == 3
    assert len(smtp.received) == 1
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED


def test_gives_up_after_the_give_up_time_and_says_so(smtp_port, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    process_outbox(utcnow() + timedelta(hours=49))
    (row,) = rows_for(history)
    assert row.status == MAIL_FAILED
    assert row.last_error.startswith("Gave up after 2 attempts")
    db.session.refresh(history)
    assert history.status == STATUS_COMPLETED
    assert history.email_delivery[0]["error"].startswith("Gave up")


class SlowAfterData:
    """Takes the message, then says nothing for `delay` seconds: the client times out after the
    whole message went out, so it cannot know whether the server accepted it."""

    def __init__(self, delay: float):
        self.delay = delay
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(bytes(envelope.content))
        await asyncio.sleep(self.delay)
        return "250 OK"


@pytest.mark.parametrize("mail_overrides", [{"MAIL_TIMEOUT": 1}])
def test_timeout_after_the_data_is_not_resent_before_the_lease_and_reuses_the_message_id(
    smtp, tenant, runs, app
):
    slow = SlowAfterData(delay=3)
    smtp.stop()  # the same port, now served by a server that is slow after the data

    smtp.controller = Controller(slow, hostname="127.0.0.1", port=smtp.port)
    smtp.controller.start()

    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["maybe@example.com"])
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    (row,) = rows_for(history)
    assert row.status == MAIL_SENDING  # uncertain: maybe accepted
    assert "may have accepted" in row.last_error
    db.session.refresh(history)
    assert history.status == STATUS_COMPLETED
    assert "uncertain" in history.email_delivery[0]["error"]

    # Polls inside the lease do not send it again.
    assert process_outbox(utcnow() + timedelta(minutes=5))["sent"] == 0
    assert len(slow.received) == 1

    # After the lease: one more attempt, with the very same Message-ID.
    smtp.stop()
    smtp.handler.received.clear()
    smtp.start()
    process_outbox(utcnow() + sending_lease() + timedelta(minutes=1))
    (row,) = rows_for(history)
    assert row.status == MAIL_SENT and row.attempts == 2
    (resent,) = smtp.received
    first = slow.received[0]
    assert resent.message["Message-ID"] == row.message_id
    assert f"Message-ID: {row.message_id}".encode() in first
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED


def test_a_sent_row_is_never_claimed_again_and_a_crash_mid_send_waits_for_the_lease(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com", "b@example.com"])
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    sent = rows_for(history)
    assert {r.status for r in sent} == {MAIL_SENT}
    assert _claim(sent[0], utcnow() + timedelta(days=30)) is None

    # A worker crashed right after claiming a row (status sending, lease running).
    db.session.execute(
        update(MailMessage)
        .where(MailMessage.id == sent[1].id)
        .values(status=MAIL_SENDING, next_attempt_at=utcnow() + sending_lease())
    )
    db.session.commit()
    assert process_outbox(utcnow() + timedelta(minutes=1))["sent"] == 0
    assert process_outbox(utcnow() + sending_lease() + timedelta(minutes=1))["sent"] == 1
    assert len(smtp.received) == 3  # a@ once; b@ resent once, after the lease, same Message-ID
    b_ids = {r.message["Message-ID"] for r in smtp.received if r.rcpt_tos == ["b@example.com"]}
    assert len(b_ids) == 1


def test_a_claim_taken_by_another_process_is_not_sent(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    history = runs.completed(tenant.business, schedule, send_email=False)
    # Queue by hand (send_email False keeps deliver_run_result away).
    history.send_email = True
    enqueue(
        business_id=history.business_id,
        history_id=history.id,
        kind=KIND_EXPORT,
        recipients=["a@example.com"],
        content=render_export_mail(history, notification_settings(history.business)),
        key_parts=(KIND_EXPORT, history.id),
    )
    db.session.commit()
    (row,) = rows_for(history)
    stale_view = MailMessage(id=row.id, status=row.status, attempts=row.attempts)
    assert _claim(row, utcnow()) == 1
    assert _claim(stale_view, utcnow()) is None  # same (status, attempts) as read: lost the race


def test_concurrent_outbox_passes_send_each_mail_once(smtp, app_factory, tmp_path, request):
    """Four threads, each with its own session, run process_outbox over the same 24 mails."""
    import os

    from tests.delivery.conftest import smtp_config

    overrides = smtp_config(smtp.port)
    if not os.environ.get("TEST_DATABASE_URL"):
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'concurrent.sqlite3'}"
    application = app_factory(**overrides)
    with application.app_context():
        business = Business(name="Concurrent Shop", timezone="UTC")
        db.session.add(business)
        db.session.commit()
        settings = notification_settings(business)
        for i in range(6):
            history = ExportHistory(
                business_id=business.id,
                export_type="SALES",
                format="csv",
                status=STATUS_COMPLETED,
                completed_at=utcnow(),
                record_count=1,
            )
            db.session.add(history)
            db.session.commit()
            enqueue(
                business_id=business.id,
                history_id=history.id,
                kind=KIND_EXPORT,
                recipients=[f"r{i}-{j}@example.com" for j in range(4)],
                content=render_export_mail(history, settings),
                key_parts=(KIND_EXPORT, history.id),
            )
            db.session.commit()
        db.session.remove()

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker():
        try:
            with application.app_context():
                barrier.wait()
                process_outbox(utcnow() + timedelta(seconds=1))
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    recipients = [r.rcpt_tos[0] for r in smtp.received]
    assert len(recipients) == 24
    assert len(set(recipients)) == 24
    with application.app_context():
        statuses = db.session.scalars(select(MailMessage.status)).all()
        assert statuses.count(MAIL_SENT) == 24
