"""Who a destination may reach, and the one HTTP POST the HTTP channels use.

Production (DESTINATIONS_ALLOW_PRIVATE=0): only https, only public addresses. A name is resolved
and every address it resolves to is checked before anything connects; the socket then connects to
one of those checked addresses (not to the name again, which a short-TTL record could re-point:
DNS rebinding), and the peer it reached is checked once more. TLS still verifies the certificate
for the name and sends it as SNI; the Host header keeps the name. Redirects are never followed.
Link-local and cloud metadata addresses are refused even when private addresses are allowed.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from dashboard.destinations.errors import DestinationError, OutboundRefused

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Cloud metadata services outside the link-local range (Alibaba; AWS's IPv6 one): never reachable.
_METADATA = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}
# Carrier-grade NAT space: not public, treated as private.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# What a failing target's answer may put in our log (never in the run's error, which users read:
# the target would become a way to read whatever it can reach).
_LOGGED_BODY_LIMIT = 300


@dataclass(frozen=True)
class OutboundPolicy:
    allow_private: bool = False
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config) -> OutboundPolicy:
        return cls(
            allow_private=bool(config.get("DESTINATIONS_ALLOW_PRIVATE")),
            timeout=float(config.get("DESTINATIONS_TIMEOUT_SECONDS") or 10),
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, at least "/"


def address_refusal(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why `address` may not be reached under `policy`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 (mapped, 6to4) is judged as that IPv4 address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
    if address in _METADATA or address.is_link_local:
        return "a link-local or cloud metadata address"
    if address.is_unspecified or address.is_multicast:
        return "not a unicast address"
    if address.is_global:
        return None
    if address.is_loopback:
        return None if policy.allow_private else "a loopback address"
    if address.is_private or address in _SHARED:
        return None if policy.allow_private else "a private address"
    return "not a public address"


def _refuse_address(host: str, address: IPAddress, policy: OutboundPolicy) -> None:
    reason = address_refusal(address, policy)
    if reason is None:
        return
    shown = host if host == str(address) else f"{host} (resolves to {address})"
    raise OutboundRefused(f"{shown} is {reason}; destinations may reach only public addresses.")


def parse_url(url: str, policy: OutboundPolicy) -> Target:
    """Check the scheme and shape of `url` (no DNS, no connection)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused("Not a valid URL.") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if policy.allow_private else ("https",)
    if scheme not in allowed:
        raise OutboundRefused("Only https:// addresses are allowed.")
    if not parts.hostname:
        raise OutboundRefused("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("The URL may not carry a user name or password.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    default_port = 443 if scheme == "https" else 80
    return Target(scheme, parts.hostname, port or default_port, path)


def resolve_checked(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    """The addresses `host` resolves to, each checked; refused if ANY of them may not be reached
    (a name with one private address among public ones is refused, not half-trusted)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        _refuse_address(host, literal, policy)
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationError(f"{host} could not be resolved.", retryable=True) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        _refuse_address(host, address, policy)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DestinationError(f"{host} could not be resolved.", retryable=True)
    return addresses


def check_url(url: str, policy: OutboundPolicy) -> Target:
    """Everything that can be checked without connecting: scheme, shape, every resolved address."""
    target = parse_url(url, policy)
    resolve_checked(target.host, target.port, policy)
    return target


def connect_checked(host: str, port: int, policy: OutboundPolicy) -> socket.socket:
    """A TCP socket connected to a checked address of `host` (resolved here, at connect time)."""
    last_error: OSError | None = None
    for address in resolve_checked(host, port, policy):
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(policy.timeout)
        try:
            sock.connect((str(address), port))
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
        if address_refusal(peer, policy) is not None:
            sock.close()
            _refuse_address(host, peer, policy)
        return sock
    if isinstance(last_error, TimeoutError):
        raise DestinationError(
            f"{host}:{port} did not accept a connection within {policy.timeout:g} s.", retryable=True
        )
    raise DestinationError(f"{host}:{port} refused the connection.", retryable=True)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, policy: OutboundPolicy) -> None:
        super().__init__(host, port, timeout=policy.timeout)
        self._policy = policy

    def connect(self) -> None:
        self.sock = connect_checked(self.host, self.port, self._policy)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, policy: OutboundPolicy) -> None:
        super().__init__(host, port, timeout=policy.timeout, context=ssl.create_default_context())
        self._policy = policy

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self._policy)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _for_log(text: str) -> str:
    # The target writes this text: escape control characters so it cannot forge log lines.
    return text.translate({c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if c != 0x09})


def post_json(url: str, body: bytes, headers: dict[str, str], policy: OutboundPolicy) -> int:
    """POST `body` to `url`; the status code of a 2xx answer. Anything else raises
    DestinationError (retryable for timeouts, connection errors, 408, 425, 429 and 5xx)."""
    target = parse_url(url, policy)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, policy)
    where = f"{target.host}"
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "ExportAutomation-Destinations/1",
                **headers,
            },
        )
        response = connection.getresponse()
        status = response.status
        excerpt = response.read(_LOGGED_BODY_LIMIT).decode("utf-8", "replace")
    except DestinationError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise DestinationError(
            f"{where}: its TLS certificate is not trusted ({exc.verify_message}).", retryable=True
        ) from exc
    except TimeoutError as exc:
        raise DestinationError(
            f"{where} did not answer within {policy.timeout:g} s.", retryable=True
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DestinationError(
            f"{where}: the connection failed ({type(exc).__name__}).", retryable=True
        ) from exc
    finally:
        connection.close()
    if 200 <= status < 300:
        return status
    logger.warning("Destination %s answered %s: %s", where, status, _for_log(excerpt))
    if 300 <= status < 400:
        raise DestinationError(f"{where} answered {status} (a redirect); redirects are not followed.")
    retryable = status in (408, 425, 429) or status >= 500
    raise DestinationError(f"{where} answered {status}.", retryable=retryable)
