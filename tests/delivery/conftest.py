"""Fixtures for the delivery tests: a real SMTP server (aiosmtpd on loopback), a black hole that
accepts connections and never answers, finished export runs with their files in storage."""

from __future__ import annotations

import email
import io
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller

from dashboard.extensions import db
from dashboard.models.automation import STATUS_COMPLETED, STATUS_FAILED, ExportHistory, ExportSchedule
from dashboard.models.types import utcnow
from dashboard.storage import get_storage


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


@dataclass
class Handler:
    """Collects what the server accepted; answers 550 or 451 for chosen recipients."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # 550
    defer: set[str] = field(default_factory=set)  # 451
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address.lower() in self.defer:
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 2.0.0 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (a.lower() for a in r.rcpt_tos)]


class SmtpServer:
    def __init__(self, port: int | None = None, *, smtputf8: bool = False):
        self.port = port or free_port()
        self.handler = Handler()
        self.controller: Controller | None = None
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531) in the EHLO answer

    def start(self) -> SmtpServer:
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            data_size_limit=64 * 1024 * 1024,
            enable_SMTPUTF8=self.smtputf8,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@pytest.fixture
def smtp():
    """A running SMTP server on a free loopback port."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_port():
    """A port with no server on it yet (the test starts one when it wants)."""
    servers: list[SmtpServer] = []

    class Port:
        port = free_port()

        def start(self) -> SmtpServer:
            server = SmtpServer(self.port).start()
            servers.append(server)
            return server

    yield Port()
    for server in servers:
        server.stop()


@pytest.fixture
def black_hole():
    """A TCP server that accepts connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for connection in held:
        connection.close()
    listener.close()


def smtp_config(port: int, **extra) -> dict:
    config = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_SUPPRESS_SEND": False,
        "MAIL_TIMEOUT": 5,
        "MAIL_DEFAULT_SENDER": "exports@example.com",
    }
    config.update(extra)
    return config


@pytest.fixture
def mail_overrides() -> dict:
    """Extra app settings; a test overrides it with @pytest.mark.parametrize("mail_overrides", ...)."""
    return {}


@pytest.fixture
def app(app_factory, request, mail_overrides):
    """The usual app, wired to whichever mail server the test asked for: `smtp` (running),
    `smtp_port` (nothing listening until the test starts it), `black_hole` (MAIL_TIMEOUT=1);
    none of them: the development outbox (.eml files)."""
    overrides: dict = {}
    if "smtp" in request.fixturenames:
        overrides = smtp_config(request.getfixturevalue("smtp").port)
    elif "smtp_port" in request.fixturenames:
        overrides = smtp_config(request.getfixturevalue("smtp_port").port)
    elif "black_hole" in request.fixturenames:
        overrides = smtp_config(request.getfixturevalue("black_hole"), MAIL_TIMEOUT=1)
    overrides.update(mail_overrides)
    application = app_factory(**overrides)
    with application.app_context():
        yield application


class Runs:
    """Builds finished runs the way the runner leaves them: file stored, state committed."""

    def __init__(self, app):
        self.app = app

    def schedule(self, business, creator, **fields) -> ExportSchedule:
        values = dict(
            business_id=business.id,
            created_by_id=creator.id if creator is not None else None,
            name="Daily sales",
            export_type="SALES",
            format="excel",
            frequency="DAILY",
            hour=8,
            timezone=business.timezone,
            recipients=["accounting@example.com", "boss@example.com"],
            include_creator_email=False,
            email_subject="",
            email_message="",
            filters={"date_range": "yesterday"},
            is_active=True,
            next_run_at=utcnow() + timedelta(hours=20),
        )
        values.update(fields)
        schedule = ExportSchedule(**values)
        db.session.add(schedule)
        db.session.commit()
        return schedule

    def completed(
        self,
        business,
        schedule: ExportSchedule | None = None,
        content: bytes = b"PK\x03\x04 pretend spreadsheet",
        file_name: str = "sales_export_2024-03-15.xlsx",
        **fields,
    ) -> ExportHistory:
        now = utcnow()
        history = ExportHistory(
            business_id=business.id,
            schedule_id=schedule.id if schedule else None,
            schedule_name=schedule.name if schedule else "",
            export_type=schedule.export_type if schedule else "SALES",
            format=schedule.format if schedule else "excel",
            trigger="SCHEDULED" if schedule else "MANUAL",
            status=STATUS_COMPLETED,
            started_at=now - timedelta(seconds=5),
            completed_at=now,
            record_count=42,
            filters_applied={"start_date": "2024-03-14", "end_date": "2024-03-14"},
            created_at=now - timedelta(seconds=6),
        )
        for key, value in fields.items():
            setattr(history, key, value)
        db.session.add(history)
        db.session.flush()
        if content is not None:
            history.file_path = get_storage().save_export_file(
                io.BytesIO(content), file_name, business.id, history.id, created_at=history.created_at
            )
            history.file_name = file_name
            history.file_size = len(content)
        db.session.commit()
        return history

    def failed(self, business, schedule: ExportSchedule | None = None, **fields) -> ExportHistory:
        now = utcnow()
        history = ExportHistory(
            business_id=business.id,
            schedule_id=schedule.id if schedule else None,
            schedule_name=schedule.name if schedule else "",
            export_type=schedule.export_type if schedule else "SALES",
            format=schedule.format if schedule else "excel",
            trigger="SCHEDULED" if schedule else "MANUAL",
            status=STATUS_FAILED,
            started_at=now - timedelta(seconds=5),
            completed_at=now,
            error_message="OperationalError: database is locked",
            created_at=now - timedelta(seconds=6),
        )
        for key, value in fields.items():
            setattr(history, key, value)
        db.session.add(history)
        db.session.commit()
        return history


@pytest.fixture
def runs(app):
    return Runs(app)


def _member(business, email: str, name: str, role: str):
    """A user without a password: hashing is slow and these tests never sign in."""
    from dashboard.models import Membership, User

    user = User(email=email, name=name)
    db.session.add_all([user, Membership(user=user, business=business, role=role)])
    db.session.commit()
    return user


@pytest.fixture
def tenant(factory):
    """The shared fixture's business and people, without password hashing."""
    from types import SimpleNamespace

    business = factory.business("Test Shop", timezone="UTC")
    owner = _member(business, "owner@shop-one.example.com", "Olive Owner", "owner")
    manager = _member(business, "manager@shop-one.example.com", "Manny Manager", "manager")
    return SimpleNamespace(business=business, owner=owner, manager=manager)


@pytest.fixture
def other_tenant(factory):
    from types import SimpleNamespace

    business = factory.business("Other Shop", timezone="America/New_York")
    owner = _member(business, "owner@shop-two.example.com", "Otto Other", "owner")
    return SimpleNamespace(business=business, owner=owner)
