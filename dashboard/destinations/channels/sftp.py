"""Upload each file to host:port/path over SFTP (paramiko), with a password or a private key.

The server's host key is pinned when the destination is saved (its SHA256 fingerprint, shown to
the owner as OpenSSH prints it); an upload to a server presenting another key is refused. Files
are written under a temporary name and renamed, so a reader never picks up half a file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import stat
from typing import TYPE_CHECKING, Any

from dashboard.destinations.channels.base import Channel, FieldSpec, SendContext
from dashboard.destinations.content import DeliveryContent
from dashboard.destinations.errors import DestinationError
from dashboard.destinations.outbound import OutboundPolicy, connect_checked

if TYPE_CHECKING:
    import paramiko

# paramiko is imported where a connection needs it: it costs every command a twentieth of a second.


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's form: SHA256:<base64 of the key's SHA-256, unpadded>."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def load_private_key(text: str) -> paramiko.PKey:
    import paramiko

    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise DestinationError(
        "The private key could not be read (an unencrypted OpenSSH or PEM Ed25519, ECDSA or "
        "RSA key is needed)."
    )


def _start(config: dict[str, Any], policy: OutboundPolicy) -> paramiko.Transport:
    host, port = config["host"], int(config.get("port") or 22)
    import paramiko

    sock = connect_checked(host, port, policy)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = policy.timeout
    transport.handshake_timeout = policy.timeout
    transport.auth_timeout = policy.timeout
    try:
        transport.start_client(timeout=policy.timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        transport.close()
        raise DestinationError(f"{host}:{port} did not complete an SSH handshake.", retryable=True) from exc
    return transport


def fetch_host_key_fingerprint(config: dict[str, Any], policy: OutboundPolicy) -> str:
    transport = _start(config, policy)
    try:
        return fingerprint(transport.get_remote_server_key())
    finally:
        transport.close()


def _ensure_directory(client: paramiko.SFTPClient, path: str) -> None:
    current = "/" if path.startswith("/") else ""
    for part in [p for p in path.split("/") if p]:
        current = posixpath.join(current, part) if current else part
        try:
            if not stat.S_ISDIR(client.stat(current).st_mode or 0):
                raise DestinationError(f"{current} exists on the server and is not a folder.")
        except FileNotFoundError:
            client.mkdir(current)


class SftpChannel(Channel):
    kind = "sftp"
    label = "SFTP"
    fields = (
        FieldSpec("host", max_length=253),
        FieldSpec("port", required=False, type=int, default=22),
        FieldSpec("username", max_length=200),
        FieldSpec("password", required=False, secret=True, max_length=500),
        FieldSpec("private_key", required=False, secret=True, max_length=20000),
        FieldSpec("path", required=False, default="", max_length=1000),
        FieldSpec("host_key_fingerprint", required=False, max_length=200),
    )

    def target(self, config: dict[str, Any]) -> str:
        path = config.get("path") or ""
        if path and not path.startswith("/"):
            path = "/" + path
        return f"sftp://{config.get('username')}@{config.get('host')}:{config.get('port') or 22}{path}"

    def check(self, config: dict[str, Any], policy: OutboundPolicy) -> dict[str, Any]:
        if not config.get("password") and not config.get("private_key"):
            raise DestinationError("Give a password or a private key.")
        if config.get("private_key"):
            load_private_key(config["private_key"])
        seen = fetch_host_key_fingerprint(config, policy)
        given = (config.get("host_key_fingerprint") or "").strip()
        if given and given != seen:
            raise DestinationError(
                f"The server's host key is {seen}, not {given}: check that this is the right server."
            )
        return {"host_key_fingerprint": seen}

    def deliver(self, content: DeliveryContent, config: dict[str, Any], send: SendContext) -> None:
        pinned = config.get("host_key_fingerprint")
        if not pinned:
            raise DestinationError("No host key is pinned for this server: save the destination again.")
        import paramiko

        transport = _start(config, send.policy)
        try:
            seen = fingerprint(transport.get_remote_server_key())
            if seen != pinned:
                raise DestinationError(
                    f"The server's host key changed (pinned {pinned}, now {seen}); nothing was "
                    "uploaded. If the change is expected, save the destination again."
                )
            self._authenticate(transport, config)
            client = paramiko.SFTPClient.from_transport(transport)
            client.get_channel().settimeout(send.policy.timeout)
            directory = config.get("path") or ""
            if directory:
                _ensure_directory(client, directory)
            for link in content.files:
                if link.open is None:
                    raise DestinationError(f"{link.file_name} is no longer stored.")
                final = posixpath.join(directory, link.file_name) if directory else link.file_name
                partial = (
                    posixpath.join(directory, f".{link.file_name}.part")
                    if directory
                    else (f".{link.file_name}.part")
                )
                with link.open() as source:
                    client.putfo(source, partial, confirm=True)
                try:
                    client.posix_rename(partial, final)
                except OSError:
                    client.rename(partial, final)
            client.close()
        except DestinationError:
            raise
        except paramiko.AuthenticationException as exc:
            raise DestinationError("The server refused the user name, password or key.") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise DestinationError(
                f"The SFTP upload failed ({type(exc).__name__}: {exc}).", retryable=True
            ) from exc
        finally:
            transport.close()

    @staticmethod
    def _authenticate(transport: paramiko.Transport, config: dict[str, Any]) -> None:
        username = config["username"]
        if config.get("private_key"):
            transport.auth_publickey(username, load_private_key(config["private_key"]))
        else:
            transport.auth_password(username, config["password"])
