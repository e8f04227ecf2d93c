"""Real servers on loopback for the destination tests: an HTTP(S) receiver that records what it
was sent and answers from a script, an SFTP server (asyncssh) and an S3 server (moto)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next step of `script` (then "ok" forever): "ok" (200),
    "timeout" (waits `slow_seconds` before answering 200), or a status code."""

    script: list = field(default_factory=list)
    slow_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    url: str = ""

    def next_step(self):
        return self.script.pop(0) if self.script else "ok"


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.receiver.received.append(Received(self.path, dict(self.headers.items()), body))
        step = self.receiver.next_step()
        if step == "timeout":
            time.sleep(self.receiver.slow_seconds)
            step = 200
        status = 200 if step == "ok" else int(step)
        payload = b"internal secret page" if status >= 400 else b"ok"
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def start_receiver(host: str = "127.0.0.1", tls_context: ssl.SSLContext | None = None, **kwargs):
    """(receiver, stop) with receiver.url like http://127.0.0.1:PORT/hook."""
    receiver = Receiver(**kwargs)
    handler = type("Handler", (_Handler,), {"receiver": receiver})
    server_class = _Server6 if ":" in host else _Server
    server = server_class((host, 0), handler)
    scheme = "http"
    if tls_context is not None:

        def remember(_sock, server_name, _context):
            receiver.server_names.append(server_name)

        tls_context.sni_callback = remember
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    port = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    receiver.url = f"{scheme}://{shown}:{port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return receiver, stop


def self_signed_certificate(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A certificate for `name` (and 127.0.0.1), its own CA: (cert.pem, key.pem)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SftpServer:
    """asyncssh's SFTP server on 127.0.0.1, chrooted to `root`, in a thread with its own loop."""

    def __init__(
        self,
        root: Path,
        username: str,
        password: str | None = None,
        authorized_key: str | None = None,
        host_key=None,
    ) -> None:
        import asyncssh

        self.root = root
        self.username = username
        self.password = password
        self.authorized_key = authorized_key
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def fingerprint(self) -> str:
        return self.host_key.get_fingerprint("sha256")

    def start(self) -> SftpServer:
        import asyncssh

        outer = self

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return outer.password is not None

            def validate_password(self, username: str, password: str) -> bool:
                return username == outer.username and password == outer.password

        options = {}
        if self.authorized_key:
            options["authorized_client_keys"] = asyncssh.import_authorized_keys(self.authorized_key)

        async def listen():
            return await asyncssh.listen(
                "127.0.0.1",
                0,
                server_host_keys=[self.host_key],
                server_factory=Server,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root)),
                allow_scp=False,
                **options,
            )

        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close():
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
