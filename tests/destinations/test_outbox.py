"""End to end: a real export run delivered through the outbox to real servers on loopback (an HTTP
receiver checking the signature, asyncssh's SFTP server, moto's S3 server); retries with backoff,
exactly one delivery once a 2xx came back, `destination_delivery` on the run and in the API."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from dashboard.automation.runner import ScheduledExportRunner
from dashboard.delivery.dispatch import process_outbox
from dashboard.extensions import db
from dashboard.models.automation import ExportHistory, ExportSchedule, MailMessage
from dashboard.models.types import utcnow
from dashboard.services.destinations import validate_destinations
from dashboard.storage import get_storage

from .servers import SftpServer, free_port, start_receiver
from .test_webhook import SECRET, receiver_verifies


@pytest.fixture
def app(app_factory):
    application = app_factory(
        DESTINATIONS_ALLOW_PRIVATE=True,
        DESTINATIONS_TIMEOUT_SECONDS=0.5,
        DESTINATIONS_MAX_ATTEMPTS=3,
        MAIL_RETRY_BASE_SECONDS=60,
    )
    with application.app_context():
        yield application


def schedule_with(business, destinations, **fields) -> ExportSchedule:
    values = dict(
        business_id=business.id,
        name="Monthly sales",
        export_type="SALES",
        format="csv",
        frequency="MONTHLY",
        day_of_month=1,
        timezone="UTC",
        recipients=[],
        filters={"date_range": "previous_month"},
        destinations=validate_destinations(destinations),
    )
    values.update(fields)
    schedule = ExportSchedule(**values)
    db.session.add(schedule)
    db.session.commit()
    return schedule


def run(schedule) -> ExportHistory:
    history = ScheduledExportRunner().execute_schedule(schedule)
    assert history.status == "COMPLETED", history.error_message
    return history


def stored_bytes(history) -> bytes:
    with get_storage().open(history.file_path) as stored:
        return stored.read()


def fresh(history) -> ExportHistory:
    db.session.expire_all()
    return db.session.get(ExportHistory, history.id)


def test_a_receiver_that_times_out_once_then_answers_200_gets_exactly_one_recorded_delivery(app, factory):
    receiver, stop = start_receiver(script=["timeout", "ok"], slow_seconds=1.5)
    try:
        business = factory.business("Corner Café")
        schedule = schedule_with(business, [{"kind": "webhook", "url": receiver.url, "secret": SECRET}])
        assert SECRET not in json.dumps(schedule.destinations)  # stored encrypted
        history = run(schedule)  # attempt 1 right after the run: the receiver does not answer in time

        (result,) = fresh(history).destination_delivery
        assert (result["delivered"], result["attempts"]) == (False, 1)
        assert "did not answer within 0.5 s" in result["error"] and "Trying again" in result["error"]
        assert process_outbox()["sent"] == 0  # not due before the backoff
        assert process_outbox(utcnow() + timedelta(seconds=70))["sent"] == 1  # attempt 2: 200
        for hours in (2, 5, 24, 47):  # and never again, however often the outbox runs
            assert process_outbox(utcnow() + timedelta(hours=hours))["sent"] == 0

        assert fresh(history).destination_delivery == [
            {"kind": "webhook", "target": receiver.url, "delivered": True, "error": None, "attempts": 2}
        ]
        assert db.session.query(MailMessage).filter_by(channel="webhook").count() == 1
        # The receiver saw two requests, both signed, with one idempotency key: one delivery to it.
        assert len(receiver.received) == 2
        assert {r.headers["Idempotency-Key"] for r in receiver.received} == {f"{history.id}:0"}
        now = int(utcnow().timestamp())
        assert all(receiver_verifies(r, SECRET, now) for r in receiver.received)
        document = json.loads(receiver.received[1].body)
        assert document["event"] == "export.completed"
        assert document["run"]["id"] == str(history.id)
        assert document["run"]["record_count"] == history.record_count
        (entry,) = document["files"]
        assert entry["file_name"] == history.file_name and entry["file_size"] == history.file_size
        assert entry["download_url"].startswith("http://localhost/d/")
    finally:
        stop()


def test_a_permanent_failure_is_recorded_once_and_not_retried(app, factory):
    receiver, stop = start_receiver(script=[404])
    try:
        business = factory.business()
        history = run(schedule_with(business, [{"kind": "slack", "url": receiver.url}]))
        process_outbox(utcnow() + timedelta(days=1))
        (result,) = fresh(history).destination_delivery
        assert (result["delivered"], result["attempts"]) == (False, 1)
        assert "answered 404" in result["error"]
        assert result["target"] == "Slack (127.0.0.1)"
        assert len(receiver.received) == 1
    finally:
        stop()


def test_retries_stop_after_the_last_attempt(app, factory):
    receiver, stop = start_receiver(script=[503, 503, 503, 200])
    try:
        history = run(schedule_with(factory.business(), [{"kind": "teams", "url": receiver.url}]))
        process_outbox(utcnow() + timedelta(minutes=2))
        process_outbox(utcnow() + timedelta(minutes=10))
        process_outbox(utcnow() + timedelta(hours=5))
        (result,) = fresh(history).destination_delivery
        assert (result["delivered"], result["attempts"]) == (False, 3)
        assert result["error"].startswith("Gave up after 3 attempts")
        assert len(receiver.received) == 3
    finally:
        stop()


def test_sftp_and_the_bucket_hold_files_byte_identical_to_the_history(app, factory, tmp_path):
    from moto.server import ThreadedMotoServer

    root = tmp_path / "sftp"
    root.mkdir()
    sftp = SftpServer(root, "acct", password="pw").start()
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="AKID",
            aws_secret_access_key="secret-key",
        )
        s3.create_bucket(Bucket="customer")
        business = factory.business()
        schedule = schedule_with(
            business,
            [
                {
                    "kind": "sftp",
                    "host": "127.0.0.1",
                    "port": sftp.port,
                    "username": "acct",
                    "password": "pw",
                    "path": "drop/sales",
                },
                {
                    "kind": "s3",
                    "bucket": "customer",
                    "prefix": "pos",
                    "region": "us-east-1",
                    "endpoint_url": endpoint,
                    "access_key_id": "AKID",
                    "secret_access_key": "secret-key",
                },
            ],
            format="excel",
        )
        history = run(schedule)
        expected = stored_bytes(history)
        assert len(expected) > 1000
        assert (root / "drop" / "sales" / history.file_name).read_bytes() == expected
        assert s3.get_object(Bucket="customer", Key=f"pos/{history.file_name}")["Body"].read() == expected
        results = fresh(history).destination_delivery
        assert [(r["kind"], r["delivered"], r["attempts"]) for r in results] == [
            ("sftp", True, 1),
            ("s3", True, 1),
        ]
        assert results[0]["target"] == f"sftp://acct@127.0.0.1:{sftp.port}/drop/sales"
        assert results[1]["target"] == "s3://customer/pos/"
    finally:
        sftp.stop()
        moto.stop()


def test_the_api_shows_destination_delivery_beside_email_delivery(app, factory, client, api_token):
    receiver, stop = start_receiver()
    try:
        business = factory.business()
        owner = factory.user(business)
        history = run(schedule_with(business, [{"kind": "webhook", "url": receiver.url, "secret": SECRET}]))
        body = client.get(
            f"/api/reports/automation/history/{history.id}/", headers=api_token(owner, business)
        ).get_json()
        assert body["destination_delivery"] == [
            {"kind": "webhook", "target": receiver.url, "delivered": True, "error": None, "attempts": 1}
        ]
        assert "email_delivery" in body
        listed = client.get("/api/reports/automation/history/", headers=api_token(owner, business)).get_json()
        assert listed["results"][0]["destination_delivery"][0]["delivered"] is True
    finally:
        stop()


def test_a_failed_run_sends_nothing_to_destinations(app, factory):
    receiver, stop = start_receiver()
    try:
        schedule = schedule_with(
            factory.business(), [{"kind": "slack", "url": receiver.url}], filters={"start_date": "not-a-date"}
        )
        history = ScheduledExportRunner().execute_schedule(schedule)
        assert history.status == "FAILED"
        assert receiver.received == [] and fresh(history).destination_delivery == []
    finally:
        stop()
