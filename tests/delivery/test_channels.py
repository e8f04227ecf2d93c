"""The channel interface: a channel that is not e-mail, added beside it, is queued, retried with
backoff and recorded by the outbox without the outbox knowing anything about it; e-mail keeps
working beside it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.delivery import channels, outbox, process_outbox
from dashboard.delivery.channels import Attempt, Channel, get_channel
from dashboard.delivery.files import files_of
from dashboard.extensions import db
from dashboard.models.automation import MAIL_PENDING, MAIL_SENT, MailMessage
from dashboard.models.types import utcnow


class Payload:
    def __init__(self, data: dict):
        self.data = data

    def payload(self, position: int) -> dict:
        return {**self.data, "position": position}


class LoopbackChannel(Channel):
    """Answers from a script instead of a network: each attempt takes the next answer."""

    kind = "loopback"

    def __init__(self) -> None:
        self.answers: list[Attempt] = []
        self.attempted: list[dict] = []
        self.recorded: list = []

    def queue(self, run, files, destination=None, index=0, now=None) -> int:
        new = outbox.enqueue(
            business_id=run.business_id,
            history_id=run.id,
            kind=outbox.KIND_EXPORT,
            channel=self.kind,
            recipients=[destination["target"]],
            content=Payload({"files": [f.file_name for f in files], "sizes": [f.file_size for f in files]}),
            key_parts=(self.kind, run.id, index),
            now=now,
        )
        db.session.commit()
        return new

    def attempt(self, row) -> Attempt:
        self.attempted.append(dict(row.payload))
        return self.answers.pop(0)

    def record(self, run_id) -> None:
        self.recorded.append(run_id)


@pytest.fixture
def loopback():
    channel = LoopbackChannel()
    channels._CHANNELS[channel.kind] = channel
    yield channel
    channels._CHANNELS.pop(channel.kind, None)


def test_a_new_channel_is_retried_by_the_outbox_and_never_delivers_twice(smtp, tenant, runs, loopback):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    run = runs.completed(tenant.business, schedule)
    files = files_of(run)
    assert [(f.file_name, f.format, f.file_size) for f in files] == [
        ("sales_export_2024-03-15.xlsx", "excel", len(b"PK\x03\x04 pretend spreadsheet"))
    ]
    assert files[0].content_type.startswith("application/vnd.openxmlformats")

    mailed = get_channel("email").deliver(run, files)
    assert mailed.delivered and [e["target"] for e in mailed.entries] == ["a@example.com"]
    loopback.answers = [Attempt(outbox.TRANSIENT, "receiver timed out"), Attempt(outbox.ACCEPTED)]
    first = loopback.deliver(run, files, {"target": "https://hooks.example.com/x"}, 0)
    assert first.kind == "loopback" and not first.delivered
    assert first.entries[0]["target"] == "https://hooks.example.com/x"
    assert first.entries[0]["attempts"] == 1 and "receiver timed out" in first.entries[0]["error"]
    assert loopback.attempted == [
        {"files": ["sales_export_2024-03-15.xlsx"], "sizes": [files[0].file_size], "position": 0}
    ]
    row = db.session.scalar(select(MailMessage).where(MailMessage.channel == "loopback"))
    assert row.status == MAIL_PENDING and row.next_attempt_at is not None  # backoff, not at once
    process_outbox()
    assert len(loopback.attempted) == 1  # not due yet

    later = utcnow() + timedelta(hours=2)
    summary = process_outbox(later)
    assert summary["sent"] >= 1 and len(loopback.attempted) == 2
    assert loopback.recorded and set(loopback.recorded) == {run.id}

    # Delivered: neither another pass nor another deliver() reaches the target again.
    process_outbox(later + timedelta(hours=2))
    again = loopback.deliver(run, files, {"target": "https://hooks.example.com/x"}, 0)
    assert len(loopback.attempted) == 2
    assert again.delivered and again.entries[0]["attempts"] == 2
    db.session.refresh(row)
    assert row.status == MAIL_SENT

    # E-mail, beside it, is unaffected: its own row, its own record on the run.
    assert [r.rcpt_tos for r in smtp.received] == [["a@example.com"]]
    db.session.refresh(run)
    assert [e["email"] for e in run.email_delivery] == ["a@example.com"]


def test_a_channel_error_is_a_transient_failure_not_a_crash(tenant, runs, loopback):
    run = runs.completed(tenant.business, runs.schedule(tenant.business, tenant.owner, recipients=[]))
    loopback.answers = []  # attempt() raises IndexError: a bug in the channel
    result = loopback.deliver(run, files_of(run), {"target": "sftp://files.example.com/in"}, 0)
    assert not result.delivered and "IndexError" in result.entries[0]["error"]
    row = db.session.scalar(select(MailMessage).where(MailMessage.channel == "loopback"))
    assert row.status == MAIL_PENDING  # kept for the next pass


def test_unknown_channel_is_named():
    with pytest.raises(KeyError, match="No delivery channel 'carrier-pigeon'"):
        get_channel("carrier-pigeon")
    assert get_channel("email").kind == "email"
