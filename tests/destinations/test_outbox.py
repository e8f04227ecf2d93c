"""The destination outbox on a real database with a real receiver: retries with backoff, exactly
one delivery once a 2xx came back, secrets kept encrypted, results as the run shows them."""

from __future__ import annotations

import io
import json
import os
from datetime import timedelta

import pytest

from dashboard.automation.storage import get_storage
from dashboard.extensions import db
from dashboard.models import DestinationDelivery
from dashboard.models.automation import STATUS_COMPLETED, ExportHistory, ExportSchedule
from dashboard.models.types import utcnow
from dashboard.services import destination_outbox as outbox
from dashboard.services.destinations import validate_destinations

from .servers import start_receiver
from .test_webhook import SECRET, receiver_verifies


@pytest.fixture
def app(app_factory):
    application = app_factory(
        DESTINATIONS_ALLOW_PRIVATE=True,
        DESTINATIONS_TIMEOUT_SECONDS=0.5,
        DESTINATIONS_RETRY_BASE_SECONDS=60,
        DESTINATIONS_MAX_ATTEMPTS=3,
    )
    with application.app_context():
        yield application


def finished_run(business, schedule, content: bytes) -> ExportHistory:
    now = utcnow()
    history = ExportHistory(
        business_id=business.id,
        schedule_id=schedule.id,
        schedule_name=schedule.name,
        export_type="SALES",
        format="csv",
        trigger="SCHEDULED",
        status=STATUS_COMPLETED,
        started_at=now - timedelta(seconds=3),
        completed_at=now,
        record_count=7,
        filters_applied={"start_date": "2026-11-01", "end_date": "2026-11-30"},
    )
    db.session.add(history)
    db.session.flush()
    history.file_path = get_storage().save_export_file(
        io.BytesIO(content), "sales_2026-11.csv", business.id, history.id, created_at=now
    )
    history.file_name, history.file_size = "sales_2026-11.csv", len(content)
    db.session.commit()
    return history


def schedule_with(business, destinations) -> ExportSchedule:
    schedule = ExportSchedule(
        business_id=business.id,
        name="Monthly sales",
        export_type="SALES",
        format="csv",
        frequency="MONTHLY",
        day_of_month=1,
        timezone="UTC",
        recipients=[],
        destinations=validate_destinations(destinations),
    )
    db.session.add(schedule)
    db.session.commit()
    return schedule


def test_a_receiver_that_times_out_once_then_answers_200_gets_exactly_one_recorded_delivery(app, factory):
    receiver, stop = start_receiver(script=["timeout", "ok"], slow_seconds=1.5)
    try:
        business = factory.business("Corner Café")
        schedule = schedule_with(business, [{"kind": "webhook", "url": receiver.url, "secret": SECRET}])
        assert SECRET not in json.dumps(schedule.destinations)  # stored encrypted
        history = finished_run(business, schedule, b"Receipt,Total\r\nR1,9.99\r\n")

        outbox.deliver_run(history.id)  # attempt 1: the receiver does not answer in time
        (row,) = db.session.query(DestinationDelivery).all()
        assert (row.status, row.attempts) == ("pending", 1)
        assert "did not answer" in row.last_error
        assert outbox.deliver_due() == {}  # not due before the backoff
        later = utcnow() + timedelta(seconds=61)
        assert outbox.deliver_due(later) == {"delivered": 1}  # attempt 2: 200
        for step in (2, 4, 8):  # and never again, however often the outbox runs
            assert outbox.deliver_due(utcnow() + timedelta(hours=step)) == {}
        assert outbox.enqueue_run_destinations(db.session.get(ExportHistory, history.id)) == 0

        assert outbox.destination_delivery(history.id) == [
            {"kind": "webhook", "target": receiver.url, "delivered": True, "error": None, "attempts": 2}
        ]
        # The receiver saw two requests, both signed, with one idempotency key: one delivery to it.
        assert len(receiver.received) == 2
        keys = {r.headers["Idempotency-Key"] for r in receiver.received}
        assert keys == {f"{history.id}:0"}
        now = int(utcnow().timestamp())
        assert all(receiver_verifies(r, SECRET, now) for r in receiver.received)
        document = json.loads(receiver.received[1].body)
        assert document["run"]["id"] == str(history.id)
        (file_entry,) = document["files"]
        assert file_entry["file_name"] == "sales_2026-11.csv"
        assert file_entry["download_url"].startswith("http://localhost/d/")
    finally:
        stop()


def test_a_permanent_failure_is_recorded_once_and_not_retried(app, factory):
    receiver, stop = start_receiver(script=[404])
    try:
        business = factory.business()
        schedule = schedule_with(business, [{"kind": "slack", "url": receiver.url}])
        history = finished_run(business, schedule, b"x")
        outbox.deliver_run(history.id)
        assert outbox.deliver_due(utcnow() + timedelta(days=1)) == {}
        (result,) = outbox.destination_delivery(history.id)
        assert result["delivered"] is False and result["attempts"] == 1
        assert "answered 404" in result["error"]
        assert result["target"] == "Slack (127.0.0.1)"
    finally:
        stop()


def test_retries_stop_after_the_last_attempt(app, factory):
    receiver, stop = start_receiver(script=[503, 503, 503, 200])
    try:
        business = factory.business()
        schedule = schedule_with(business, [{"kind": "teams", "url": receiver.url}])
        history = finished_run(business, schedule, b"x")
        outbox.deliver_run(history.id)
        outbox.deliver_due(utcnow() + timedelta(minutes=2))
        outbox.deliver_due(utcnow() + timedelta(minutes=10))
        assert outbox.deliver_due(utcnow() + timedelta(hours=5)) == {}
        (result,) = outbox.destination_delivery(history.id)
        assert (result["delivered"], result["attempts"]) == (False, 3)
        assert len(receiver.received) == 3
    finally:
        stop()


def test_files_reach_sftp_byte_identical_to_the_stored_file(app, factory, tmp_path):
    from .servers import SftpServer

    root = tmp_path / "sftp"
    root.mkdir()
    server = SftpServer(root, "acct", password="pw").start()
    try:
        business = factory.business()
        schedule = schedule_with(
            business,
            [
                {
                    "kind": "sftp",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "username": "acct",
                    "password": "pw",
                    "path": "drop",
                }
            ],
        )
        assert schedule.destinations[0]["host_key_fingerprint"] == server.fingerprint
        content = os.urandom(40_000)
        history = finished_run(business, schedule, content)
        outbox.deliver_run(history.id)
        with get_storage().open(history.file_path) as stored:
            assert (root / "drop" / "sales_2026-11.csv").read_bytes() == stored.read() == content
        assert outbox.destination_delivery(history.id)[0]["delivered"] is True
    finally:
        server.stop()
