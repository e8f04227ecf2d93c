"""SFTP uploads against asyncssh's SFTP server on loopback: host key pinned when saved, files
byte-identical on the server, a changed host key or a wrong password refused."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import asyncssh
import pytest

from dashboard.destinations.channels import SendContext, get_channel
from dashboard.destinations.content import FileLink
from dashboard.destinations.errors import DestinationError, OutboundRefused

from .servers import SftpServer
from .test_webhook import sample_content

pytestmark = pytest.mark.nodb


def stored_files(tmp_path: Path) -> tuple[FileLink, ...]:
    links = []
    for name, size in (("sales_2026-11.xlsx", 70_000), ("sales_2026-11.csv", 3_000)):
        path = tmp_path / "stored" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(size))
        links.append(
            FileLink(
                name.rsplit(".", 1)[1],
                name,
                size,
                "https://e.example.com/d/x",
                open=lambda p=path: contextlib.closing(open(p, "rb")),
            )
        )
    return tuple(links)


@pytest.fixture
def sftp_server(tmp_path):
    root = tmp_path / "sftp-root"
    root.mkdir()
    server = SftpServer(root, "acct", password="pw-123").start()
    yield server
    server.stop()


def config_for(server: SftpServer, **changes) -> dict:
    config = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "acct",
        "password": "pw-123",
        "path": "/incoming/exports",
    }
    config.update(changes)
    return config


def test_saving_pins_the_host_key_the_server_really_has(sftp_server, loopback_policy):
    pinned = get_channel("sftp").check(config_for(sftp_server), loopback_policy)
    # asyncssh's own fingerprint of its key: the same text OpenSSH shows.
    assert pinned == {"host_key_fingerprint": sftp_server.fingerprint}
    assert pinned["host_key_fingerprint"].startswith("SHA256:")


def test_a_fingerprint_given_by_the_owner_must_match(sftp_server, loopback_policy):
    with pytest.raises(DestinationError, match="not SHA256:wrong"):
        get_channel("sftp").check(
            config_for(sftp_server, host_key_fingerprint="SHA256:wrong"), loopback_policy
        )


def test_files_arrive_byte_identical_under_the_path(sftp_server, tmp_path, loopback_policy):
    channel = get_channel("sftp")
    config = config_for(sftp_server)
    config.update(channel.check(config, loopback_policy))
    files = stored_files(tmp_path)
    channel.deliver(sample_content(files=files), config, SendContext(loopback_policy, "r:0"))
    folder = sftp_server.root / "incoming" / "exports"
    assert sorted(p.name for p in folder.iterdir()) == ["sales_2026-11.csv", "sales_2026-11.xlsx"]
    for link in files:
        with link.open() as source:
            assert (folder / link.file_name).read_bytes() == source.read()


def test_a_private_key_authenticates(tmp_path, loopback_policy):
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    root = tmp_path / "keyroot"
    root.mkdir()
    server = SftpServer(root, "acct", authorized_key=client_key.export_public_key().decode()).start()
    try:
        config = {
            "host": "127.0.0.1",
            "port": server.port,
            "username": "acct",
            "private_key": client_key.export_private_key("openssh").decode(),
            "path": "",
        }
        config.update(get_channel("sftp").check(config, loopback_policy))
        files = stored_files(tmp_path)
        get_channel("sftp").deliver(sample_content(files=files), config, SendContext(loopback_policy, "r:0"))
        assert (root / "sales_2026-11.csv").stat().st_size == 3_000
    finally:
        server.stop()


def test_a_changed_host_key_is_refused_and_nothing_is_uploaded(sftp_server, tmp_path, loopback_policy):
    config = config_for(sftp_server, host_key_fingerprint="SHA256:" + "A" * 43)
    with pytest.raises(DestinationError, match="host key changed") as refused:
        get_channel("sftp").deliver(
            sample_content(files=stored_files(tmp_path)), config, SendContext(loopback_policy, "r:0")
        )
    assert refused.value.retryable is False
    assert list(sftp_server.root.iterdir()) == []


def test_a_wrong_password_is_not_retried(sftp_server, tmp_path, loopback_policy):
    config = config_for(sftp_server, password="nope")
    config["host_key_fingerprint"] = sftp_server.fingerprint
    with pytest.raises(DestinationError, match="refused the user name") as refused:
        get_channel("sftp").deliver(
            sample_content(files=stored_files(tmp_path)), config, SendContext(loopback_policy, "r:0")
        )
    assert refused.value.retryable is False


def test_production_mode_refuses_a_loopback_sftp_host(sftp_server, production_policy):
    with pytest.raises(OutboundRefused, match="loopback"):
        get_channel("sftp").check(config_for(sftp_server), production_policy)


def test_neither_password_nor_key_is_a_clear_error(loopback_policy):
    with pytest.raises(DestinationError, match="password or a private key"):
        get_channel("sftp").check({"host": "127.0.0.1", "username": "a"}, loopback_policy)
