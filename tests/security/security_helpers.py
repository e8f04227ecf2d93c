"""Shared pieces of the security tests (imported by name: this folder is on sys.path).

`build_world()` makes two businesses: A, the target, whose objects an attacker reaches for, and B,
the attacker's own. `db_snapshot()` reads every row of every table, so "nothing changed" means
exactly that, not "the row count stayed the same". `normalized()` makes two answers comparable
byte for byte: the requested id, the per-request CSRF token and the per-render form nonces are
the only parts allowed to differ between a foreign id's answer and a missing id's.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dashboard.extensions import db
from dashboard.models import ExportHistory

PASSWORD = "correct-horse-battery"  # tests/conftest.py
HX = {"HX-Request": "true"}
CONTENT = b"Receipt,Total\r\nR-1,10.00\r\n"
# Figures the tests measure (table size, payload counts), printed at the end of the run.
MEASURED: dict[str, Any] = {}


DESTINATION_ID = "destination-0"  # the id of each side's schedule's one destination


def schedule_payload(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Weekly sales",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "WEEKLY",
        "day_of_week": 0,
        "hour": 8,
        "recipients": ["accounts@example.com"],
        "filters": {"date_range": "previous_week"},
    }
    data.update(overrides)
    return data


def schedule_form(**overrides: Any) -> dict[str, Any]:
    """What the schedule form posts for a valid weekly schedule."""
    data = {
        "name": "Hijacked",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "WEEKLY",
        "day_of_week": "0",
        "hour": "08",
        "minute": "00",
        "timezone": "UTC",
        "recipients": ["attacker@example.com"],
        "filters.date_range": "previous_week",
        "is_active": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@dataclass
class Side:
    """One business and what it holds."""

    business: Any
    owner: Any
    manager: Any
    schedule: Any = None
    run: Any = None  # COMPLETED, with its file in storage
    failed_run: Any = None
    preset: Any = None
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token


@dataclass
class World:
    a: Side  # the target
    b: Side  # the attacker's own business


def make_run(business, user=None, schedule=None, **fields: Any) -> ExportHistory:
    now = datetime.now(UTC)
    values = {
        "export_type": "SALES",
        "format": "csv",
        "trigger": "MANUAL",
        "status": "COMPLETED",
        "created_at": now - timedelta(minutes=5),
        "started_at": now - timedelta(minutes=5),
        "completed_at": now - timedelta(minutes=4),
        "record_count": 1,
        "file_name": "sales_export_2026-01-05.csv",
        "filters_applied": {"start_date": "2026-01-01", "end_date": "2026-01-04"},
    }
    values.update(fields)
    run = ExportHistory(
        business_id=business.id,
        user_id=user.id if user is not None else None,
        schedule_id=schedule.id if schedule is not None else None,
        schedule_name=schedule.name if schedule is not None else "",
        **values,
    )
    db.session.add(run)
    db.session.commit()
    return run


def store_file(app, run: ExportHistory, content: bytes = CONTENT) -> str:
    """Save a file for `run` through the real storage and record it as the run's file."""
    from dashboard.storage import get_storage

    source = Path(app.config["EXPORT_ROOT"]).parent / f"src-{uuid.uuid4().hex}"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(content)
    path = get_storage().save_export_file(str(source), run.file_name, run.business_id, run.id)
    source.unlink()
    run.file_path = path
    run.file_size = len(content)
    db.session.commit()
    return path


def _person(business, role: str, email: str, name: str, fast: bool):
    """A member of `business`. With `fast`, the password hash is a cheap PBKDF2 (any werkzeug hash
    verifies): the tables sign in dozens of times, and scrypt costs 0.3 s a check."""
    from werkzeug.security import generate_password_hash

    from dashboard.models import Membership, User

    user = User(email=email, name=name)
    if fast:
        user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    else:
        user.set_password(PASSWORD)
    db.session.add_all([user, Membership(user=user, business=business, role=role)])
    db.session.commit()
    return user


def _side(app, factory, name: str, tag: str, fast_passwords: bool = True) -> Side:
    from dashboard.auth.tokens import create_token
    from dashboard.services import schedules as schedule_service
    from dashboard.services.presets import create_preset

    business = factory.business(name, timezone="UTC")
    owner = _person(business, "owner", f"owner@{tag}.example.com", f"Owner {tag}", fast_passwords)
    manager = _person(business, "manager", f"manager@{tag}.example.com", f"Manager {tag}", fast_passwords)
    side = Side(business, owner, manager)
    side.schedule = schedule_service.create_schedule(
        business, owner, schedule_payload(name=f"{name} weekly sales")
    )
    # A destination (issue 19), so that the routes taking a destination id have one to find; its
    # loopback address is refused without a connection outside development.
    from dashboard.extensions import db
    from dashboard.services.destinations import secret_box

    side.schedule.destinations = [
        {"id": DESTINATION_ID, "kind": "slack", "url": secret_box().encrypt("https://127.0.0.1:9/hook")}
    ]
    db.session.commit()
    side.run = make_run(business, owner, side.schedule, file_name=f"{tag}_sales_export_2026-01-05.csv")
    store_file(app, side.run)
    side.failed_run = make_run(
        business,
        owner,
        side.schedule,
        status="FAILED",
        file_name="",
        record_count=0,
        error_message="The database was unreachable.",
        error_traceback="Traceback (most recent call last): ...",
    )
    side.preset = create_preset(business, owner, {"name": f"{name} stock", "export_type": "INVENTORY"})
    for role, user in (("owner", owner), ("manager", manager)):
        membership = next(m for m in user.memberships if m.business_id == business.id)
        side.tokens[role] = create_token(membership)
    return side


def build_world(app, factory, fast_passwords: bool = True) -> World:
    return World(
        a=_side(app, factory, "Target Shop", "target", fast_passwords),
        b=_side(app, factory, "Attacker Shop", "attacker", fast_passwords),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client, email: str, password: str = PASSWORD):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with client.session_transaction() as state:
        state.pop("_flashes", None)  # "Welcome back" would show on whichever page comes next
    return client


# --------------------------------------------------------------------------------------------
# "Nothing changed"


def db_snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (sorted), read through the session so that anything a view
    flushed but did not commit counts as a change too."""
    snapshot: dict[str, list[tuple]] = {}
    db.session.expire_all()
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(table.select()).all()
        snapshot[table.name] = sorted((tuple(repr(v) for v in row) for row in rows), key=repr)
    return snapshot


def snapshot_diff(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, dict]:
    """{table: {"added": [...], "removed": [...]}} for the tables that differ."""
    diff = {}
    for name in sorted(set(before) | set(after)):
        old, new = set(before.get(name, [])), set(after.get(name, []))
        if old != new:
            diff[name] = {"added": sorted(new - old), "removed": sorted(old - new)}
    return diff


# --------------------------------------------------------------------------------------------
# Comparing answers

_VOLATILE = [
    # Flask-WTF signs the session's CSRF token with a timestamp: it differs from one render to the next.
    (re.compile(r'(name="csrf_token" (?:type="hidden" )?value=")[^"]*'), r"\1{CSRF}"),
    (re.compile(r'(id="csrf_token" name="csrf_token" type="hidden" value=")[^"]*'), r"\1{CSRF}"),
    (re.compile(r'("X-CSRFToken": ")[^"]*'), r"\1{CSRF}"),
    (re.compile(r'(<meta name="csrf-token" content=")[^"]*'), r"\1{CSRF}"),
    # A form's one-time nonce and new recipient rows' keys are fresh on every render.
    (re.compile(r'(name="form_nonce" value=")[^"]*'), r"\1{NONCE}"),
]


def normalized(response, *ids: object) -> tuple[int, str, str]:
    """(status, content type, body) with the requested ids and per-render tokens masked."""
    body = response.get_data(as_text=True)
    for value in ids:
        if value:
            body = body.replace(str(value), "{ID}")
    for pattern, replacement in _VOLATILE:
        body = pattern.sub(replacement, body)
    return response.status_code, response.mimetype or "", body


def answer_diff(first: tuple[int, str, str], second: tuple[int, str, str]) -> str:
    """The first differences between two normalized answers, for a failure message."""
    import difflib

    if first[:2] != second[:2]:
        return f"status/type {first[:2]} != {second[:2]}"
    lines = difflib.unified_diff(first[2].splitlines(), second[2].splitlines(), lineterm="", n=1)
    return "\n".join(list(lines)[:20])


# --------------------------------------------------------------------------------------------
# A real SMTP server on loopback (aiosmtpd), to read mails exactly as a server receives them


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class _Handler:
    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 OK"


class SmtpServer:
    def __init__(self) -> None:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:  # Controller(port=0) fails
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.handler = _Handler()
        self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
