"""Real parts for the production tests (the fixtures that use them are in conftest.py): PostgreSQL databases of our own, a throwaway PostgreSQL cluster,
an S3-compatible server (moto), an SMTP server (aiosmtpd) and gunicorn instances as real processes.

Nothing here is mocked: each gunicorn instance is `.venv/bin/gunicorn -c gunicorn.conf.py ... app:app`
exactly as docs/deploy.md runs it, configured only through its environment.

These tests create their own databases (`test_prod_*`) on the machine's PostgreSQL (PROD_TEST_PG_URL,
default postgres@127.0.0.1:5432) and never touch the database named `test`. They skip, with the reason,
only when that server is unreachable and CI is unset; in CI they must run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
GUNICORN = str(VENV_BIN / "gunicorn")
FLASK = str(VENV_BIN / "flask")
ADMIN_URL = os.environ.get("PROD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
TEMPLATE_DB = "test_prod_template"
SECRET_KEY = "production-test-secret-" + "x" * 24
OPS_TOKEN = "ops-test-token-" + "y" * 24
OPS_HEADERS = {"Authorization": f"Bearer {OPS_TOKEN}"}
# What the old /healthz checked, and what a load balancer asks /readyz (docs/deploy.md).
READY_URL = "/readyz?checks=database,storage"
PASSWORD = "correct-horse-battery"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# The template holds a big business for slow exports and a small one for many quick ones.
BIG_SHOP, BIG_SALES = "Big Shop", 30000
SMALL_SHOP, SMALL_SALES = "Small Shop", 30
OWNER_EMAIL = "owner@prod-test.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def sqlalchemy_url(plain_url: str) -> str:
    return plain_url.replace("postgresql://", "postgresql+psycopg://", 1)


def _admin_parts() -> tuple[str, str]:
    base, _, _ = ADMIN_URL.rpartition("/")
    return base, ADMIN_URL


def database_url(name: str, base: str | None = None) -> str:
    """A SQLAlchemy URL for database `name` on the machine's server (or on `base`)."""
    return sqlalchemy_url(f"{base or _admin_parts()[0]}/{name}")


# -- reachability --------------------------------------------------------------------------------


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def admin_execute(sql: str, url: str = ADMIN_URL) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def drop_database(name: str, url: str = ADMIN_URL) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', url)


def drop_leftover_databases() -> None:
    """Databases of earlier sessions that were killed before their clean-up (their pid is gone)."""
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        names = [
            r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname ~ '^test_prod_[0-9]+$'")
        ]
    for name in names:
        pid = int(name.rsplit("_", 1)[1])
        if not Path(f"/proc/{pid}").exists():
            drop_database(name)


# -- the migrated, seeded template ---------------------------------------------------------------


def run_flask(args: list[str], database: str, extra_env: dict | None = None, timeout: float = 120) -> str:
    env = base_env(database)
    env["SCHEDULER_ENABLED"] = "0"
    env.update(extra_env or {})
    result = subprocess.run(
        [FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def base_env(database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_DATABASE"))}
    env.update(AWS_ENV)
    env.update(
        {
            "FLASK_APP": "app",
            "APP_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            "OPS_TOKEN": OPS_TOKEN,
            "DATABASE_URL": database,
            "LOG_FORMAT": "keyvalue",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@contextlib.contextmanager
def app_on(database: str, tmp: Path):
    """An in-process app (TestConfig: no scheduler) on `database`, inside its app context."""
    from config import TestConfig
    from dashboard import create_app
    from dashboard.extensions import db

    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=database,
        EXPORT_ROOT=str(tmp / "exports"),
        MAIL_OUTBOX_DIR=str(tmp / "outbox"),
        SECRET_KEY=SECRET_KEY,
    )
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def seed_template(database: str, tmp: Path) -> None:
    """Two businesses with the demo seed, an owner of both, and BIG_SALES sales in the big one
    (copied in SQL from its demo sales: the demo seed writes ~3,500 sales/s, this ~100,000/s)."""
    from sqlalchemy import text

    from dashboard import demo
    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User

    with app_on(database, tmp):
        demo.seed_business(SMALL_SHOP, sales=SMALL_SALES)
        demo.seed_business(BIG_SHOP, sales=200)
        owner = User(email=OWNER_EMAIL, name="Prod Owner")
        owner.set_password(PASSWORD)
        db.session.add(owner)
        for name in (SMALL_SHOP, BIG_SHOP):
            business = db.session.query(Business).filter_by(name=name).one()
            db.session.add(Membership(user=owner, business=business, role="owner"))
        big = db.session.query(Business).filter_by(name=BIG_SHOP).one()
        db.session.execute(
            text(
                """
                WITH base AS (
                    SELECT row_number() OVER (ORDER BY id) - 1 AS n, * FROM sales WHERE business_id = :b
                ), size AS (SELECT count(*) AS c FROM base)
                INSERT INTO sales (business_id, receipt_number, created_at, customer_id, cashier_id,
                    payment_method, status, item_count, subtotal_cents, discount_cents, tax_cents, total_cents)
                SELECT base.business_id, 'BULK-' || g,
                    (now() AT TIME ZONE 'utc') - make_interval(secs => g * 30),
                    base.customer_id, base.cashier_id, base.payment_method, base.status, base.item_count,
                    base.subtotal_cents, base.discount_cents, base.tax_cents, base.total_cents
                FROM generate_series(1, :count) AS g
                CROSS JOIN size
                JOIN base ON base.n = g % size.c
                """
            ),
            {"b": big.id, "count": BIG_SALES - 200},
        )
        db.session.commit()


def make_token_in_process(database: str, business: str, tmp: Path) -> str:
    from dashboard.auth.tokens import create_token
    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User

    with app_on(database, tmp):
        membership = (
            db.session.query(Membership)
            .join(User)
            .join(Business)
            .filter(User.email == OWNER_EMAIL, Business.name == business)
            .one()
        )
        token = create_token(membership)
        db.session.commit()
        return token


@dataclass
class ProdDatabase:
    name: str
    url: str  # SQLAlchemy URL (postgresql+psycopg://)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(psycopg_url(self.url), autocommit=True, connect_timeout=5)

    def query(self, sql: str, params: tuple | dict | None = None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: tuple | dict | None = None):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: tuple | dict | None = None) -> None:
        with self.connect() as conn:
            conn.execute(sql, params)


def copy_template_to(cluster_url: str, name: str, template: str) -> None:
    """Copy the template into another server (the throwaway cluster) with pg_dump | psql."""
    admin_execute(f'CREATE DATABASE "{name}"', cluster_url)
    source = psycopg_url(database_url(template))
    target = f"{cluster_url.rpartition('/')[0]}/{name}"
    dump = subprocess.Popen([str(PG_BIN / "pg_dump"), "--no-owner", source], stdout=subprocess.PIPE)
    subprocess.run(
        [str(PG_BIN / "psql"), "-q", "-v", "ON_ERROR_STOP=1", target],
        stdin=dump.stdout,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    assert dump.wait() == 0


# -- a throwaway PostgreSQL cluster of the test's own --------------------------------------------


class ThrowawayCluster:
    """initdb as the postgres user in a temporary directory, on its own port and socket directory.

    Restarting it is the fault under test; the machine's server is never touched."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pgthrow-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "server.log"
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            conf.write("max_connections = 200\nlisten_addresses = '127.0.0.1'\n")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def _as_postgres(self, argv: list[str]) -> None:
        command = " ".join(f"'{a}'" for a in argv)
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                f"-p {self.port} -k {self.dir}",
                "-w",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def running(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:
            return False

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# -- S3: moto's server on a loopback port --------------------------------------------------------


class S3Server:
    """moto in server mode. Stopping and starting it again (same port) keeps the buckets: moto's
    state lives in this process, only the HTTP server goes away, as an S3 outage would."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._cls = ThreadedMotoServer
        self.server = None
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self):
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client("s3", endpoint_url=self.endpoint)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys


# -- SMTP: aiosmtpd, stoppable -------------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        with self._lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content or b""))
            )
        return "250 Message accepted for delivery"

    def start(self) -> None:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per SMTP command otherwise
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def per_recipient_and_subject(self) -> Counter:
        """How many times each recipient got each subject: a doubled mail shows as a 2."""
        import email

        counts: Counter = Counter()
        for message in self.received():
            subject = email.message_from_bytes(message.data).get("Subject", "")
            for recipient in message.recipients:
                counts[(recipient, str(subject))] += 1
        return counts


# -- gunicorn instances --------------------------------------------------------------------------


@dataclass
class Instance:
    """One `gunicorn -c gunicorn.conf.py` process tree, in its own session (process group)."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    workers: int = 2
    extra_args: list[str] = field(default_factory=list)
    preexec_fn: object = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Instance:
        argv = [
            GUNICORN,
            "-c",
            "gunicorn.conf.py",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            *self.extra_args,
            "app:app",
        ]
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            # A pipe, not a file: a file-size limit set on the instance must not hit its own logs.
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=self.preexec_fn,
        )
        threading.Thread(target=self._copy_log, args=(self.proc.stdout,), daemon=True).start()
        if wait:
            self.wait_healthy()
        return self

    def _copy_log(self, pipe) -> None:
        with open(self.log_path, "ab") as log:
            for line in iter(pipe.readline, b""):
                log.write(line)
                log.flush()

    def wait_healthy(self, timeout: float = 30, expect: int = 200) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return requests.get(f"{self.url}{READY_URL}", timeout=5).status_code == expect
            except requests.RequestException:
                return False

        try:
            wait_for(ready, timeout, 0.2, f"{self.name} {READY_URL} {expect}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the arbiter and its live workers so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in [self.proc.pid, *self.worker_pids()]:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def signal_group(self, signum: int) -> None:
        """Send a signal to the arbiter and every worker (SIGSTOP freezes the whole instance)."""
        os.killpg(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole process tree at once: arbiter and workers die mid-whatever."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM to the arbiter: gunicorn's graceful shutdown."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not stop within {timeout}s:\n{self.log_tail()}") from None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class Fleet:
    """Starts instances with a shared environment; stops them all at the end of the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.instances: list[Instance] = []

    def env(self, database_url: str, **overrides: str) -> dict[str, str]:
        env = base_env(database_url)
        env.update(
            {
                "SCHEDULER_ENABLED": "1",
                "SCHEDULER_POLL_SECONDS": "1",
                "INSTANCE_PATH": str(self.tmp_path / "instance"),
                "BASE_URL": "http://127.0.0.1",
                "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/5",
                "EXPORT_WORKERS": "2",
                "DB_POOL_SIZE": "5",
                "DB_MAX_OVERFLOW": "5",
            }
        )
        env.update({k: str(v) for k, v in overrides.items()})
        return env

    def start(
        self,
        env: dict[str, str],
        workers: int = 2,
        wait: bool = True,
        extra_args: list[str] | None = None,
        preexec_fn=None,
        preload: bool = True,
    ) -> Instance:
        """`preload`: gunicorn --preload (the app is imported once, in the arbiter, and the workers
        fork from it: faster to boot, and the path where post-fork care matters most)."""
        name = f"instance-{len(self.instances) + 1}"
        instance = Instance(
            name=name,
            port=free_port(),
            env=env,
            log_path=self.tmp_path / f"{name}.log",
            workers=workers,
            extra_args=(["--preload"] if preload else []) + list(extra_args or []),
            preexec_fn=preexec_fn,
        )
        self.instances.append(instance)
        instance.start(wait=False)
        if wait:
            instance.wait_healthy()
        return instance

    def stop_all(self) -> None:
        """SIGTERM every instance at once (gunicorn's graceful stop), then wait for each."""
        running = [i for i in self.instances if i.proc is not None and i.proc.poll() is None]
        for instance in running:
            with contextlib.suppress(ProcessLookupError):
                instance.proc.send_signal(signal.SIGTERM)
        for instance in running:
            try:
                instance.proc.wait(45)
            except subprocess.TimeoutExpired:
                instance.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {i.name} ---\n{i.log_tail(80)}" for i in self.instances)


# -- API helpers ---------------------------------------------------------------------------------


def make_token(database: ProdDatabase, business: str) -> str:
    """A Bearer token of the owner in `business` (as `flask users token` prints one)."""
    return make_token_in_process(database.url, business, Path(tempfile.mkdtemp(prefix="token-")))


def business_id(database: ProdDatabase, name: str) -> str:
    return str(database.scalar("SELECT id FROM businesses WHERE name = %s", (name,)))


def owner_id(database: ProdDatabase) -> str:
    return str(database.scalar("SELECT id FROM users WHERE lower(email) = lower(%s)", (OWNER_EMAIL,)))


def dump_on_failure(fleet: Fleet) -> str:
    return fleet.logs()


def python_exe() -> str:
    return sys.executable


def insert_schedules(
    database,
    business: str,
    owner: str,
    due: list[datetime],
    *,
    export_type="INVENTORY",
    filters=None,
    fmt="csv",
    recipients=None,
    prefix="multi",
) -> list[str]:
    """Schedules straight into the database (what the API would store), due at the given times."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows, ids = [], []
    for n, due_at in enumerate(due):
        schedule_id = str(uuid.uuid4())
        ids.append(schedule_id)
        to = recipients(n) if recipients else []
        rows.append(
            (
                schedule_id,
                business,
                owner,
                f"{prefix} {n}",
                export_type,
                fmt,
                "DAILY",
                3,
                0,
                None,
                None,
                None,
                "UTC",
                Jsonb(to),
                False,
                f"{prefix} {n}",
                "",
                Jsonb(filters or {}),
                False,
                True,
                None,
                due_at.astimezone(UTC).replace(tzinfo=None),
                now,
                now,
            )
        )
    with psycopg.connect(database.url.replace("+psycopg", ""), autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO export_schedules (id, business_id, created_by_id, name, export_type, format,
                frequency, hour, minute, day_of_week, day_of_month, week_of_month, timezone, recipients,
                include_creator_email, email_subject, email_message, filters, skip_if_empty, is_active,
                last_run_at, next_run_at, created_at, updated_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                %s, %s, %s)""",
                rows,
            )
    return ids
