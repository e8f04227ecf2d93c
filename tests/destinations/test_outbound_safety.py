"""The outbound-safety table (issue 19): in production mode (DESTINATIONS_ALLOW_PRIVATE=0) each of
these is refused WITHOUT a connection attempt: a socket listens where the URL points and sees no
connection, and no socket of this process calls connect()."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest

from dashboard.destinations.errors import DestinationError, OutboundRefused
from dashboard.destinations.outbound import (
    OutboundPolicy,
    address_refusal,
    check_url,
    connect_checked,
    post_json,
)

pytestmark = pytest.mark.nodb


def _listener(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(5)
    sock.settimeout(0.3)
    return sock


def _saw_connection(sock: socket.socket) -> bool:
    try:
        connection, _ = sock.accept()
    except TimeoutError:
        return False
    connection.close()
    return True


@pytest.fixture
def connect_calls(monkeypatch):
    """Every socket.connect this process makes from here on (none expected)."""
    calls = []
    original = socket.socket.connect

    def spy(self, address):
        calls.append(address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return calls


# (what the row is, URL template, host a listener can hold or None, the refusal it must say)
TABLE = [
    ("127.0.0.1", "https://127.0.0.1:{port}/hook", "127.0.0.1", "loopback"),
    ("10.0.0.1", "https://10.0.0.1:{port}/hook", None, "private"),
    ("169.254.169.254", "https://169.254.169.254/latest/meta-data/", None, "metadata"),
    ("[::1]", "https://[::1]:{port}/hook", "::1", "loopback"),
    ("a name resolving to loopback", "https://localhost:{port}/hook", "127.0.0.1", "loopback"),
    ("http://", "http://example.com:{port}/hook", None, "https://"),
]


@pytest.mark.parametrize(("row", "template", "listen_on", "says"), TABLE, ids=[r[0] for r in TABLE])
def test_refused_in_production_without_a_connection(
    row, template, listen_on, says, production_policy, connect_calls
):
    listener = _listener(listen_on) if listen_on else None
    port = listener.getsockname()[1] if listener else 443
    url = template.format(port=port)
    try:
        with pytest.raises(OutboundRefused) as refused:
            post_json(url, b"{}", {}, production_policy)
        assert says in refused.value.message
        assert refused.value.retryable is False
        # The check made when a destination is saved refuses it the same way.
        with pytest.raises(OutboundRefused):
            check_url(url, production_policy)
        assert connect_calls == []
        if listener is not None:
            assert not _saw_connection(listener)
    finally:
        if listener is not None:
            listener.close()
    print(json.dumps({"row": row, "url": url, "refused": refused.value.message}))


def test_the_same_loopback_receiver_is_reached_when_private_addresses_are_allowed(receiver, loopback_policy):
    """The table's refusals come from the policy, not from a receiver that could not answer."""
    assert post_json(receiver.url, b"{}", {}, loopback_policy) == 200
    assert len(receiver.received) == 1


def test_metadata_and_link_local_stay_refused_even_when_private_addresses_are_allowed(
    loopback_policy, connect_calls
):
    for url in ("http://169.254.169.254/latest/", "http://[fe80::1]/", "http://100.100.100.200/"):
        with pytest.raises(OutboundRefused, match="metadata"):
            post_json(url, b"{}", {}, loopback_policy)
    assert connect_calls == []


def test_rebinding_a_name_public_when_saved_and_loopback_when_sending_is_refused_at_connect(
    monkeypatch, production_policy, connect_calls
):
    """DNS rebinding: the first resolution (the save-time check) says a public address, the next
    one (at connect time) says loopback. The connect-time resolution is checked again, so nothing
    connects. (A DNS server answering differently cannot run here: getaddrinfo is replaced.)"""
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    check_url("https://rebind.example.com/hook", production_policy)  # saved: public
    with pytest.raises(OutboundRefused, match=r"resolves to 127\.0\.0\.1"):
        connect_checked("rebind.example.com", 443, production_policy)
    assert connect_calls == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch, production_policy):
    def mixed(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(OutboundRefused, match="private"):
        check_url("https://mixed.example.com/", production_policy)


@pytest.mark.parametrize(
    "address",
    ["::ffff:127.0.0.1", "2002:7f00:1::1", "fd00::1", "fc00::5", "100.64.0.1", "0.0.0.0", "224.0.0.1"],
)
def test_disguised_and_special_addresses_are_not_public(address):
    assert address_refusal(ipaddress.ip_address(address), OutboundPolicy()) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert address_refusal(ipaddress.ip_address(address), OutboundPolicy()) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/", "https://"),
        ("https://user:pw@example.com/", "user name"),
        ("https:///nohost", "no host"),
        ("https://example.com:99999/", "valid URL"),
        ("", "https://"),
    ],
)
def test_malformed_urls_get_a_clear_refusal(url, says, production_policy):
    with pytest.raises(OutboundRefused, match=says):
        check_url(url, production_policy)


def test_a_closed_port_is_a_retryable_failure(loopback_policy):
    listener = _listener("127.0.0.1")
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(DestinationError) as failed:
        post_json(f"http://127.0.0.1:{port}/", b"{}", {}, loopback_policy)
    assert failed.value.retryable is True
