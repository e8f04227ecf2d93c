"""Low-level mail sending: SMTP with a timeout on every connection, or the development outbox.

Flask-Mail builds the messages (`flask_mail.Message`) and its `email_dispatched` signal fires for
every message the server accepted (or the outbox stored), so `mail.record_messages()` works as usual.
The SMTP conversation itself is ours because Flask-Mail opens `smtplib.SMTP` without a timeout (a
server that accepts the connection and never answers would hang the worker) and drops the
per-recipient answers that the outbox records.

Every outcome is one of:
- ``accepted``: the server took the message for that recipient (2xx after the data);
- ``transient``: not delivered, worth retrying (connection refused, timeout before the data, 4xx);
- ``permanent``: refused for good (5xx), not retried;
- ``uncertain``: the connection broke after the whole message had been sent, before the server's
  final answer: it may have been accepted, so the caller must not resend it blindly.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path

from flask import current_app
from flask_mail import BadHeaderError, Message, email_dispatched, sanitize_address

log = logging.getLogger(__name__)

ACCEPTED = "accepted"
TRANSIENT = "transient"
PERMANENT = "permanent"
UNCERTAIN = "uncertain"

_CRLF = b"\r\n"


@dataclass
class RecipientResult:
    email: str
    outcome: str
    code: int | None = None
    error: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED


@dataclass
class SendResult:
    """Per-recipient outcomes of one message; `connection_error` is set when the server could not be
    reached or the connection broke, so the caller can stop trying further messages for now."""

    recipients: dict[str, RecipientResult] = field(default_factory=dict)
    connection_error: str = ""

    @property
    def any_accepted(self) -> bool:
        return any(r.accepted for r in self.recipients.values())


def clean_header(value: str | None, limit: int = 255) -> str:
    """A header-safe one-line string: CR/LF and other control characters become spaces, and so do
    the Unicode line breaks (NEL, U+2028, U+2029) that the email package also refuses in headers
    (a subject holding one made the mail impossible to build)."""
    text = re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]+", " ", str(value or ""))
    # The email package decodes RFC 2047 encoded words when a header is stored, and writes what
    # they decode to as it is: a subject typed as "=?utf-8?q?Hi=0D=0ABcc=3A_x=40example.com?="
    # became a real "Bcc:" line. Typed text is never an encoded word: "=?" becomes "= ?".
    text = text.replace("=?", "= ?")
    return re.sub(r"\s{2,}", " ", text).strip()[:limit]


def sender_address() -> str:
    """The bare address of MAIL_DEFAULT_SENDER (which may be written as "Name <address>")."""
    configured = current_app.config.get("MAIL_DEFAULT_SENDER") or "exports@example.com"
    if isinstance(configured, tuple | list):
        configured = configured[-1]
    return parseaddr(str(configured))[1] or str(configured)


def outbox_mode() -> bool:
    """True when mail goes to .eml files: no MAIL_SERVER, or sending suppressed (development, tests)."""
    config = current_app.config
    return bool(config.get("MAIL_SUPPRESS_SEND")) or not config.get("MAIL_SERVER")


def classify_code(code: int | None) -> str:
    if code is not None and 500 <= code < 600:
        return PERMANENT
    return TRANSIENT


def _describe(code: int | None, message) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = clean_header(str(message or ""), 500)
    return f"{code} {text}".strip() if code is not None else text


def _describe_exception(exc: BaseException) -> str:
    # smtplib turns a read timeout into SMTPServerDisconnected("... timed out"); say what happened.
    timed_out = isinstance(exc.__context__, TimeoutError) or "timed out" in str(exc)
    if isinstance(exc, TimeoutError | socket.timeout) or (
        isinstance(exc, smtplib.SMTPServerDisconnected) and timed_out
    ):
        return f"The mail server did not answer within {current_app.config.get('MAIL_TIMEOUT', 30):g} s."
    if isinstance(exc, ConnectionRefusedError):
        return "The mail server refused the connection (is it running?)."
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"The mail server closed the connection: {clean_header(str(exc), 300) or 'no reason given'}."
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"The mail server rejected the login: {_describe(exc.smtp_code, exc.smtp_error)}."
    if isinstance(exc, smtplib.SMTPResponseException):
        return _describe(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the mail server failed: {clean_header(str(exc), 300)}."
    if isinstance(exc, OSError):
        return f"Could not reach the mail server: {clean_header(str(exc), 300) or type(exc).__name__}."
    return clean_header(f"{type(exc).__name__}: {exc}", 500)


class OutgoingMessage(Message):
    """Flask-Mail's Message, with From, Reply-To and Subject stored through the modern email
    policy. Flask-Mail pre-encodes non-ASCII names as RFC 2047 words, and refolding such a word at
    78 characters can split it ("victim@examp le.com"); the policy's own encoder folds correctly."""

    def _message(self):
        message = super()._message()
        for name, value in (("Subject", self.subject), ("From", self.sender), ("Reply-To", self.reply_to)):
            if value and name in message:
                message.replace_header(name, clean_header(str(value), 998))
        # Folding at 78 before an encoded word keeps the space on both sides of the fold, so
        # readers saw "(CSV)  — Shop"; our headers stay far below RFC 5322's 998 and need no fold.
        message.policy = message.policy.clone(max_line_length=998)
        return message


def format_address(name: str | None, address: str) -> str:
    """ "Name <address>", quoted where needed, the name unencoded (the policy encodes it)."""
    name = clean_header(name, 120)
    if not name:
        return address
    return str(Address(display_name=name, addr_spec=address))


def with_recipient(data: bytes, old: tuple[str, str], new: tuple[str, str]) -> bytes | None:
    """The bytes of a rendered message for another recipient: its To and Message-ID header lines
    swapped. Rendering a message with a 7 MB attachment takes over a second (the email package
    re-folds every line); the mails of one run differ only in these two headers. None when the
    headers are not found as plain single lines (then the caller renders the message itself)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head, body = data[: end + 2], data[end + 2 :]
    for name, before, after in (("To", old[0], new[0]), ("Message-ID", old[1], new[1])):
        try:
            line_old = f"\r\n{name}: {before}\r\n".encode("ascii")
            line_new = f"\r\n{name}: {after}\r\n".encode("ascii")
        except UnicodeEncodeError:
            return None
        if head.count(line_old) != 1:
            return None
        head = head.replace(line_old, line_new)
    return head + body


def _fix_eols(data: bytes) -> bytes:
    return re.sub(rb"(?:\r\n|\n|\r(?!\n))", _CRLF, data)


def _quote_periods(data: bytes) -> bytes:
    return re.sub(rb"(?m)^\.", b"..", data)


def _check_headers(message: Message) -> None:
    if message.has_bad_headers():
        raise BadHeaderError("A header of the message contains a line break.")


class OutboxTransport:
    """Development and tests: each message becomes an .eml file in MAIL_OUTBOX_DIR, counted as accepted."""

    def __init__(self) -> None:
        self.folder = Path(current_app.config.get("MAIL_OUTBOX_DIR") or "instance/outbox")

    def close(self) -> None:
        return None

    def send(self, message: Message, data: bytes | None = None) -> SendResult:
        _check_headers(message)
        if message.date is None:
            message.date = time.time()
        if data is None:
            data = message.as_bytes()
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        first = str(next(iter(message.send_to), "nobody"))
        who = re.sub(r"[^A-Za-z0-9@._-]+", "_", parseaddr(first)[1] or first)[:80]
        ident = re.sub(r"[^A-Za-z0-9]+", "", message.msgId)[-12:]
        target = self.folder / f"{stamp}-{who}-{ident}.eml"
        temporary = target.with_suffix(".eml.part")
        temporary.write_bytes(data)
        temporary.replace(target)  # a reader never sees half a message
        email_dispatched.send(current_app._get_current_object(), message=message)
        log.info("Mail to %s written to %s", ", ".join(map(str, message.send_to)), target)
        return SendResult({str(r): RecipientResult(str(r), ACCEPTED) for r in message.send_to})


class SmtpTransport:
    """One SMTP connection, opened lazily with MAIL_TIMEOUT and reused for several messages."""

    def __init__(self) -> None:
        config = current_app.config
        self.server = config.get("MAIL_SERVER")
        self.port = int(config.get("MAIL_PORT") or 25)
        self.timeout = float(config.get("MAIL_TIMEOUT") or 30)
        self.use_ssl = bool(config.get("MAIL_USE_SSL"))
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        # socket.getfqdn() (smtplib's default) can block on DNS without any timeout.
        self.local_hostname = config.get("MAIL_LOCAL_HOSTNAME") or socket.gethostname() or "localhost"
        self.host: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        if self.host is not None:
            return self.host
        context = ssl.create_default_context()
        host: smtplib.SMTP
        if self.use_ssl:
            host = smtplib.SMTP_SSL(
                self.server,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            host = smtplib.SMTP(
                self.server, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            if self.use_tls:
                host.starttls(context=context)
            if self.username and self.password:
                host.login(self.username, self.password)
            host.ehlo_or_helo_if_needed()
        except BaseException:
            self._abandon(host)
            raise
        self.host = host
        return host

    @staticmethod
    def _abandon(host: smtplib.SMTP | None) -> None:
        if host is None:
            return
        try:
            host.close()
        except Exception:  # closing a broken socket may fail; it is gone either way
            pass

    def close(self) -> None:
        host, self.host = self.host, None
        if host is None:
            return
        try:
            host.quit()
        except Exception:
            self._abandon(host)

    def send(self, message: Message, data: bytes | None = None) -> SendResult:
        """Send `message` (its bytes given as `data` when the caller rendered them already)."""
        _check_headers(message)
        if message.date is None:
            message.date = time.time()
        recipients = [str(r) for r in message.send_to]
        envelope = {r: parseaddr(r)[1] or r for r in recipients}
        result = SendResult()
        try:
            host = self._open()
        except Exception as exc:
            return self._all(result, recipients, TRANSIENT, None, _describe_exception(exc), connection=True)

        phase = "envelope"
        try:
            options = ["BODY=8BITMIME"] if host.has_extn("8bitmime") else []
            code, reply = host.mail(sanitize_address(sender_address()), options)
            if code != 250:
                self._reset(host)
                return self._all(result, recipients, classify_code(code), code, _describe(code, reply))
            accepted: list[str] = []
            for recipient in recipients:
                code, reply = host.rcpt(sanitize_address(envelope[recipient]))
                if code in (250, 251):
                    accepted.append(recipient)
                else:
                    result.recipients[recipient] = RecipientResult(
                        recipient, classify_code(code), code, _describe(code, reply)
                    )
            if not accepted:
                self._reset(host)
                return result
            code, reply = host.docmd("DATA")
            if code != 354:
                self._reset(host)
                return self._all(result, accepted, classify_code(code), code, _describe(code, reply))
            wire = _quote_periods(_fix_eols(message.as_bytes() if data is None else data))
            if not wire.endswith(_CRLF):
                wire += _CRLF
            phase = "data"  # from here a broken connection may hide an accepted message
            host.send(wire + b"." + _CRLF)
            code, reply = host.getreply()
            if code != 250:
                return self._all(result, accepted, classify_code(code), code, _describe(code, reply))
            self._all(result, accepted, ACCEPTED, code, "")
        except Exception as exc:
            self._abandon(self.host)
            self.host = None
            pending = [r for r in recipients if r not in result.recipients]
            outcome = UNCERTAIN if phase == "data" else TRANSIENT
            error = _describe_exception(exc)
            if outcome == UNCERTAIN:
                error = f"{error} The message had been sent; the server may have accepted it."
            return self._all(result, pending, outcome, None, error, connection=True)
        email_dispatched.send(current_app._get_current_object(), message=message)
        return result

    @staticmethod
    def _reset(host: smtplib.SMTP) -> None:
        try:
            host.rset()
        except Exception:  # the next message reconnects if the session is unusable
            pass

    @staticmethod
    def _all(
        result: SendResult,
        recipients: list[str],
        outcome: str,
        code: int | None,
        error: str,
        connection: bool = False,
    ) -> SendResult:
        for recipient in recipients:
            result.recipients[recipient] = RecipientResult(recipient, outcome, code, error)
        if connection:
            result.connection_error = error
        return result


@contextmanager
def open_transport() -> Iterator[OutboxTransport | SmtpTransport]:
    """The transport this configuration uses; closes the SMTP connection at the end."""
    transport: OutboxTransport | SmtpTransport = OutboxTransport() if outbox_mode() else SmtpTransport()
    try:
        yield transport
    finally:
        transport.close()


def send_message(message: Message) -> SendResult:
    """Send one Flask-Mail message now (own connection), with per-recipient outcomes."""
    with open_transport() as transport:
        return transport.send(message)
