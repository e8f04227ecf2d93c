"""The signed webhook against a real HTTP receiver on loopback that verifies the signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time

import pytest

from dashboard.destinations.channels import SendContext, get_channel
from dashboard.destinations.content import DeliveryContent, FileLink
from dashboard.destinations.errors import DestinationError
from dashboard.destinations.outbound import OutboundPolicy
from dashboard.destinations.signing import signature_header, verify_signature

from .servers import self_signed_certificate, start_receiver

pytestmark = pytest.mark.nodb

SECRET = "whsec_test_0123456789"


def sample_content(**changes) -> DeliveryContent:
    values = dict(
        run={"id": "6f1c2b7e-0000-4000-8000-000000000001", "status": "COMPLETED", "record_count": 42},
        files=(
            FileLink("excel", "sales_2026-11.xlsx", 5120, "https://exports.example.com/d/tok1"),
            FileLink("csv", "sales_2026-11.csv", 2048, "https://exports.example.com/d/tok2"),
        ),
        business_name="Corner Café",
        schedule_name="Monthly sales <for> the accountant & co",
        title="Sales export",
        period="2026-11",
        record_count=42,
    )
    values.update(changes)
    return DeliveryContent(**values)


def receiver_verifies(received, secret: str, now: int) -> bool:
    """What docs/destinations.md tells receivers to do, written out independently of our code."""
    header = received.headers["X-Export-Signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = f"{fields['t']}.".encode() + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return abs(now - int(fields["t"])) <= 300 and hmac.compare_digest(expected, fields["v1"])


def test_the_receiver_gets_the_contract_body_signed_with_an_idempotency_key(receiver, loopback_policy):
    get_channel("webhook").deliver(
        sample_content(),
        {"url": receiver.url, "secret": SECRET},
        SendContext(loopback_policy, "6f1c2b7e-0000-4000-8000-000000000001:0"),
    )
    (got,) = receiver.received
    now = int(time.time())
    assert receiver_verifies(got, SECRET, now)
    assert verify_signature(SECRET, got.headers["X-Export-Signature"], got.body, now)
    assert not receiver_verifies(got, "another-secret", now)
    assert got.headers["Idempotency-Key"] == "6f1c2b7e-0000-4000-8000-000000000001:0"
    assert got.headers["Content-Type"] == "application/json"
    document = json.loads(got.body)
    assert document["event"] == "export.completed"
    assert document["run"]["id"] == "6f1c2b7e-0000-4000-8000-000000000001"
    assert document["files"] == [
        {
            "format": "excel",
            "file_name": "sales_2026-11.xlsx",
            "file_size": 5120,
            "download_url": "https://exports.example.com/d/tok1",
        },
        {
            "format": "csv",
            "file_name": "sales_2026-11.csv",
            "file_size": 2048,
            "download_url": "https://exports.example.com/d/tok2",
        },
    ]


def test_a_tampered_body_or_an_old_timestamp_does_not_verify():
    body = b'{"event":"export.completed"}'
    header = signature_header(SECRET, body, 1_700_000_000)
    assert verify_signature(SECRET, header, body, 1_700_000_100)
    assert not verify_signature(SECRET, header, body + b" ", 1_700_000_100)
    assert not verify_signature(SECRET, header, body, 1_700_000_000 + 301)
    assert not verify_signature(SECRET, "t=abc,v1=00", body, 1_700_000_000)
    assert not verify_signature(SECRET, "", body, 1_700_000_000)


@pytest.mark.parametrize(
    ("answer", "retryable", "says"),
    [
        (500, True, "500"),
        (503, True, "503"),
        (429, True, "429"),
        (400, False, "400"),
        (404, False, "404"),
        (302, False, "redirect"),
    ],
)
def test_failures_say_what_happened_and_whether_to_retry(answer, retryable, says, receiver, loopback_policy):
    receiver.script = [answer]
    with pytest.raises(DestinationError) as failed:
        get_channel("webhook").deliver(
            sample_content(), {"url": receiver.url, "secret": SECRET}, SendContext(loopback_policy, "r:0")
        )
    assert failed.value.retryable is retryable
    assert says in failed.value.message
    # The receiver's answer body is never copied into the error users read.
    assert "internal secret page" not in failed.value.message
    assert len(receiver.received) == 1  # a redirect is not followed


def test_a_receiver_slower_than_the_timeout_is_a_retryable_failure(loopback_policy):
    slow, stop = start_receiver(script=["timeout"], slow_seconds=1.5)
    try:
        started = time.monotonic()
        with pytest.raises(DestinationError) as failed:
            get_channel("webhook").deliver(
                sample_content(),
                {"url": slow.url, "secret": SECRET},
                SendContext(OutboundPolicy(allow_private=True, timeout=0.5), "r:0"),
            )
        assert time.monotonic() - started < 1.4
        assert failed.value.retryable is True
        assert "did not answer within 0.5 s" in failed.value.message
    finally:
        stop()


def test_https_connects_to_the_checked_address_but_keeps_the_name_for_sni_host_and_certificate(
    tmp_path, monkeypatch, loopback_policy
):
    cert, key = self_signed_certificate(tmp_path, "localhost")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    tls, stop = start_receiver(tls_context=server_context)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this test CA only
    port = tls.url.rsplit(":", 1)[1].split("/")[0]
    try:
        get_channel("webhook").deliver(
            sample_content(),
            {"url": f"https://localhost:{port}/hook", "secret": SECRET},
            SendContext(loopback_policy, "r:0"),
        )
        assert tls.server_names == ["localhost"]
        assert tls.received[0].headers["Host"] == f"localhost:{port}"
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
        with pytest.raises(DestinationError, match="certificate is not trusted"):
            get_channel("webhook").deliver(
                sample_content(),
                {"url": f"https://localhost:{port}/hook", "secret": SECRET},
                SendContext(loopback_policy, "r:0"),
            )
    finally:
        stop()


def test_the_target_shown_in_history_leaves_out_the_query_and_the_secret():
    channel = get_channel("webhook")
    shown = channel.target({"url": "https://hooks.example.com/in?token=abc", "secret": SECRET})
    assert shown == "https://hooks.example.com/in"
    assert get_channel("slack").target({"url": "https://hooks.slack.com/services/T/B/x"}) == (
        "Slack (hooks.slack.com)"
    )
