"""API and pages at scale: statistics, the history list and the /history page on a million runs.

    .venv/bin/python -m bench.bench_api [--quick] [--databases sqlite,postgresql]

Data: 1,000 businesses with 1,000 runs each (1,000,000 history rows) plus one large business with
100,000, inserted with SQLAlchemy Core executemany into a database migrated by the project's own
Alembic revisions (so the indexes are production's). The databases are kept (SQLite under /tmp,
PostgreSQL `bench_api`) and reused while their row counts match.

Measured, per database:
- statistics(business) in process, median of repeated warm calls, for a typical business and for
  the large one; its floor is `SELECT count(*)` over the same business's rows on the DB-API cursor
  (the least any aggregate over them costs);
- under 20 concurrent keep-alive clients on loopback (a separate asyncio process): `/healthz`, the
  history list API (page 1, page 1 with filters, page 500 with and without filters), the
  statistics API and the /history page (page 1 and page 500 with filters), served by gunicorn
  (gunicorn.conf.py: 2 gthread workers x 4 threads, the production config) with p50/p95/p99 in
  ms and p95 as a ratio to /healthz measured in the same rounds; 1,000 requests an endpoint, in
  six interleaved rounds. Also the server workers' CPU per request (from /proc), which unlike
  latency hardly depends on other work on the machine, and how many of a scenario's rounds one
  worker served alone (gunicorn shares a round's connections out by whichever worker accepts
  first; such a round costs every request more CPU).
Targets: statistics < 20 ms typical, < 100 ms large (issue 9); every list and page (page 1,
filtered, and the deep pages reached by the links' cursors) and the statistics API: p95 within
2x of /healthz's and server CPU per request within 2x of /healthz's (issue 21). Issue 9's p95 <
50 ms is shown beside them (yes/no): /healthz's own p95 under this load is 30-50 ms on 2 cores.
The `?page=500` OFFSET rows are shown, not judged: clients reach deep pages by the cursors.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import random
import re
import signal
import socket
import statistics as stats_module
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.common import (
    RESULTS_DIR,
    ROOT,
    child_env,
    emit,
    ensure_pg_database,
    percentile,
    pg_url,
    run_child,
    upgrade_database,
)

LARGE_NAME = "Bench API Large"
OWNER_EMAIL = "owner@bench-api-large.example.com"
OWNER_PASSWORD = "bench-password-123"
TIMEZONES = ("Europe/London", "America/New_York", "UTC", "Asia/Tokyo", "Australia/Sydney")
TARGETS = {
    "stats_typical_ms": 20.0,
    "stats_large_ms": 100.0,
    "p95_ms": 50.0,
    # Issue 21: each list, page and the statistics API within 2x of /healthz, in latency and in CPU.
    "p95_vs_healthz": 2.0,
    "cpu_vs_healthz": 2.0,
}
FILTERED = {"status": "COMPLETED", "export_type": "SALES"}
ROUNDS = 6
STATISTICS_SCENARIO = "API statistics"
FULL = {"businesses": 1000, "per_business": 1000, "large": 100_000, "requests": 1000, "deep_page": 500}
QUICK = {"businesses": 100, "per_business": 1000, "large": 20_000, "requests": 400, "deep_page": 100}


def sqlite_path(sizes: dict) -> Path:
    return Path(f"/tmp/bench_api_{sizes['businesses']}x{sizes['per_business']}_{sizes['large']}.sqlite3")


def database_url(kind: str, sizes: dict) -> str:
    if kind == "sqlite":
        return f"sqlite:///{sqlite_path(sizes)}"
    suffix = "" if sizes == FULL else "_quick"
    return pg_url(f"bench_api{suffix}")


def _app(url: str, **overrides):
    from dashboard import create_app

    return create_app(None, SQLALCHEMY_DATABASE_URI=url, SCHEDULER_ENABLED=False, **overrides)


# ---- seeding ------------------------------------------------------------------------------------


def _history_rows(rng: random.Random, business_id, user_ids, schedules, count: int, now: datetime):
    """`count` finished runs over the last 365 days, with the mix a busy business has."""
    statuses = ("EMAILED",) * 10 + ("COMPLETED",) * 7 + ("FAILED",) * 3
    types = ("SALES",) * 4 + ("CUSTOMERS", "CUSTOMERS", "INVENTORY", "INVENTORY", "AUDIT_LOGS", "AUDIT_LOGS")
    formats = ("excel",) * 10 + ("csv",) * 7 + ("pdf",) * 3
    extension = {"excel": "xlsx", "csv": "csv", "pdf": "pdf"}
    rows = []
    occurrences: set = set()
    span = 365 * 24 * 3600
    for _ in range(count):
        created = now - timedelta(seconds=rng.randrange(span))
        status = rng.choice(statuses)
        export_type = rng.choice(types)
        fmt = rng.choice(formats)
        schedule_id, schedule_name = rng.choice(schedules) if rng.random() < 0.7 else (None, "")
        ok = status != "FAILED"
        day = created.date().isoformat()
        name = f"{export_type.lower()}_export_{day}.{extension[fmt]}" if ok else ""
        size = rng.randrange(10_000, 5_000_000) if ok else 0
        started = created + timedelta(seconds=rng.randrange(1, 30))
        recipients = ["accounts@example.com"] if schedule_id else []
        # (schedule_id, occurrence_at) is unique, as the runner's claims make it.
        occurrence = created if schedule_id and (schedule_id, created) not in occurrences else None
        occurrences.add((schedule_id, created))
        rows.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "business_id": business_id,
                "user_id": None if schedule_id else rng.choice(user_ids),
                "schedule_id": schedule_id,
                "schedule_name": schedule_name,
                "export_type": export_type,
                "format": fmt,
                "trigger": "SCHEDULED" if schedule_id else rng.choice(("MANUAL", "API")),
                "status": status,
                "started_at": started,
                "completed_at": started + timedelta(seconds=rng.randrange(1, 300)),
                "file_name": name,
                "file_size": size,
                # Files older than the retention period are cleaned up; the record stays.
                "file_path": f"exports/{business_id}/{name}"
                if ok and now - created < timedelta(days=30)
                else "",
                "record_count": rng.randrange(0, 50_000) if ok else 0,
                "total_records": None,
                "truncated": False,
                "filters_applied": {"start_date": day, "end_date": day}
                if export_type in ("SALES", "AUDIT_LOGS")
                else {},
                "send_email": True,
                "override_recipients": None,
                "email_sent": status == "EMAILED",
                "email_recipients": recipients if status == "EMAILED" else [],
                "email_sent_at": started if status == "EMAILED" else None,
                "email_delivery": [{"email": r, "accepted": True, "error": ""} for r in recipients]
                if status == "EMAILED"
                else [],
                "error_message": "" if ok else "The database failed while the export ran (timeout).",
                "error_traceback": "" if ok else "Traceback (most recent call last):\n  ...\nTimeoutError\n",
                "created_at": created,
                "occurrence_at": occurrence,
                "attempt": 1,
                "retry_of_id": None,
                "next_retry_at": None,
                "progress": 0,
                "claim_token": None,
                "heartbeat_at": None,
            }
        )
    return rows


def _counts_match(url: str, sizes: dict) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            total = connection.execute(text("SELECT count(*) FROM export_history")).scalar()
            large = connection.execute(
                text(
                    "SELECT count(*) FROM export_history h JOIN businesses b ON b.id = h.business_id "
                    "WHERE b.name = :name"
                ),
                {"name": LARGE_NAME},
            ).scalar()
        return (
            total == sizes["businesses"] * sizes["per_business"] + sizes["large"] and large == sizes["large"]
        )
    except Exception:
        return False
    finally:
        engine.dispose()


def _wipe(url: str, kind: str, sizes: dict) -> None:
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path(sizes)}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def child_seed(kind: str, url: str, sizes: dict) -> None:
    """Create (when missing or of another size) and migrate the database; emits what it did."""
    started = time.perf_counter()
    seeded = False
    if not _counts_match(url, sizes):
        _wipe(url, kind, sizes)
        upgrade_database(url)
        _seed(url, sizes)
        seeded = True
    else:
        upgrade_database(url)  # a newer revision (an index) applies to a kept database too
    _analyze(url, kind)
    emit({"seeded": seeded, "seconds": round(time.perf_counter() - started, 1)})


def _seed(url: str, sizes: dict) -> None:
    from sqlalchemy import insert

    from dashboard.extensions import db
    from dashboard.models.automation import ExportHistory, ExportSchedule
    from dashboard.models.pos import Business, Membership, User

    rng = random.Random("bench-api")
    now = datetime.now(UTC).replace(microsecond=0)
    app = _app(url)
    with app.app_context():
        names = [f"Bench API {i:04d}" for i in range(sizes["businesses"])] + [LARGE_NAME]
        businesses, users, memberships, schedules = [], [], [], []
        plan = []
        for index, name in enumerate(names):
            business_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            businesses.append(
                {
                    "id": business_id,
                    "name": name,
                    "timezone": TIMEZONES[index % len(TIMEZONES)],
                    "currency": "USD",
                }
            )
            user_ids = []
            for n in range(3):
                user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                users.append(
                    {
                        "id": user_id,
                        "email": f"user{n}-{index}@bench-api.example.com"
                        if name != LARGE_NAME or n
                        else OWNER_EMAIL,
                        "name": f"Person {n} of {name}",
                        "password_hash": "",
                    }
                )
                memberships.append(
                    {"user_id": user_id, "business_id": business_id, "role": "owner" if n == 0 else "manager"}
                )
                user_ids.append(user_id)
            own_schedules = []
            for n in range(5):
                schedule_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                schedules.append(
                    {
                        "id": schedule_id,
                        "business_id": business_id,
                        "created_by_id": user_ids[0],
                        "name": f"Weekly report {n}",
                        "export_type": "SALES",
                        "format": "excel",
                        "frequency": "WEEKLY",
                        "hour": 8,
                        "minute": 0,
                        "day_of_week": n,
                        "timezone": "UTC",
                        "recipients": ["accounts@example.com"],
                        "filters": {"date_range": "previous_week"},
                        "is_active": True,
                        "next_run_at": now + timedelta(days=n + 1),
                    }
                )
                own_schedules.append((schedule_id, f"Weekly report {n}"))
            count = sizes["large"] if name == LARGE_NAME else sizes["per_business"]
            plan.append((business_id, user_ids, own_schedules, count))
        db.session.execute(insert(Business), businesses)
        db.session.execute(insert(User), users)
        db.session.execute(insert(Membership), memberships)
        db.session.execute(insert(ExportSchedule), schedules)
        owner = db.session.query(User).filter_by(email=OWNER_EMAIL).one()
        owner.set_password(OWNER_PASSWORD)
        db.session.commit()
        table = ExportHistory.__table__
        batch: list[dict] = []
        inserted = 0
        for business_id, user_ids, own_schedules, count in plan:
            batch.extend(_history_rows(rng, business_id, user_ids, own_schedules, count, now))
            if len(batch) >= 20_000:
                db.session.execute(insert(table), batch)
                db.session.commit()
                inserted += len(batch)
                batch = []
                print(f"    {inserted:,} history rows", file=sys.stderr, flush=True)
        if batch:
            db.session.execute(insert(table), batch)
            db.session.commit()


def _analyze(url: str, kind: str) -> None:
    # PostgreSQL's autovacuum would do this shortly after a bulk load; doing it now makes the
    # measurement independent of when autovacuum wakes up (index-only scans need the visibility map).
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE" if kind == "postgresql" else "ANALYZE"))
    engine.dispose()


# ---- in-process figures -------------------------------------------------------------------------


def _timed(call, repeat: int) -> list[float]:
    call()  # warm: caches, prepared statements, the page cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _explain(connection, kind: str, sql: str, params) -> list[str]:
    if kind == "sqlite":
        return [str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    return [row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params)]


def _captured(call) -> list[tuple[str, object]]:
    """The SQL statements (and parameters) that `call` sends to the database."""
    from sqlalchemy import event

    from dashboard.extensions import db

    seen: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return seen


def child_stats(kind: str, url: str, repeat: int, deep_page: int) -> None:
    from sqlalchemy import select, text

    from dashboard.extensions import db
    from dashboard.models.pos import Business
    from dashboard.services import history, pages
    from dashboard.services import statistics as statistics_service

    app = _app(url)
    result: dict = {"explain": {}}
    with app.app_context():
        large = db.session.scalar(select(Business).where(Business.name == LARGE_NAME))
        typical = db.session.scalar(select(Business).where(Business.name == "Bench API 0042"))
        for label, business in (("typical", typical), ("large", large)):
            times = _timed(lambda b=business: statistics_service.statistics(b, now=datetime.now(UTC)), repeat)
            floor = _timed(
                lambda b=business: db.session.execute(
                    text("SELECT count(*) FROM export_history WHERE business_id = :b"),
                    {"b": b.id if kind == "postgresql" else str(b.id)},
                ).scalar(),
                repeat,
            )
            result[label] = {
                "median_ms": round(stats_module.median(times), 2),
                "p95_ms": round(percentile(times, 95), 2),
                "floor_median_ms": round(stats_module.median(floor), 2),
            }
        # The plans of what the statistics and the list (page 500, filtered) really send.
        connection = db.session.connection()
        for label, call in (
            ("statistics", lambda: statistics_service.statistics(large, now=datetime.now(UTC))),
            (
                f"history list page {deep_page} filtered",
                lambda: pages.paginate(
                    history.list_runs_query(large, FILTERED),
                    deep_page,
                    20,
                    lambda n: str(n),
                    count=history.count_history(large, FILTERED),
                ),
            ),
        ):
            plans = []
            for sql, params in _captured(call):
                if sql.lstrip().upper().startswith("SELECT"):
                    plans.append(
                        {"sql": " ".join(sql.split())[:300], "plan": _explain(connection, kind, sql, params)}
                    )
            result["explain"][label] = plans
    emit(result)


def child_prepare(url: str) -> None:
    """A fresh API token for the large business's owner (the load's Bearer credential)."""
    from sqlalchemy import select

    from dashboard.auth.tokens import create_token
    from dashboard.extensions import db
    from dashboard.models.pos import Business, Membership, User

    app = _app(url)
    with app.app_context():
        membership = db.session.scalar(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .join(Business, Business.id == Membership.business_id)
            .where(User.email == OWNER_EMAIL, Business.name == LARGE_NAME)
        )
        emit({"token": create_token(membership)})


# ---- the load: a real server, 20 keep-alive clients --------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with the production settings file (gunicorn.conf.py: gthread workers), the app in
    production mode, the in-process scheduler off (so that nothing but the requests runs)."""

    def __init__(self, url: str, log_path: Path, workers: int, threads: int):
        self.port = free_port()
        self.log_path = log_path
        work = Path(f"/tmp/bench_api_server_{os.getpid()}")
        work.mkdir(exist_ok=True)
        env = child_env(
            APP_ENV="production",
            DATABASE_URL=url,
            SECRET_KEY=uuid.uuid4().hex * 2,
            SCHEDULER_ENABLED="0",
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS=str(threads),
            INSTANCE_PATH=str(work),
            EXPORT_ROOT=str(work / "exports"),
            MAIL_OUTBOX_DIR=str(work / "outbox"),
            # The limiter still runs on every request (its cost is measured); its limit is raised so
            # that 20 clients hammering one token are not answered 429.
            API_RATE_LIMIT="10000000 per minute",
            LOGIN_RATE_LIMIT="1000 per minute",
        )
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "-b",
                f"127.0.0.1:{self.port}",
                "app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {log_path}")
            try:
                if http_get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; see {log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def http_get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def login_cookie(port: int) -> str:
    """Sign in through the real login form (CSRF token and all); the session cookie."""
    import http.client

    status, headers, body = http_get(port, "/login")
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body)
    if status != 200 or token is None:
        raise RuntimeError(f"the login page answered {status} without a CSRF token")
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    form = urlencode(
        {"csrf_token": token.group(1).decode(), "email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/login",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        response = connection.getresponse()
        response.read()
        if response.status != 302:
            raise RuntimeError(f"login answered {response.status}")
        cookie = response.getheader("Set-Cookie", "").split(";")[0]
        # Follow the redirect, as a browser does: its page shows the "signed in" message and the
        # session comes back without it. Kept, that message would be shown, and the session
        # written again, on every page of the load.
        status, headers, _ = http_get(
            port, urlsplit(response.getheader("Location", "/")).path, {"Cookie": cookie}
        )
        if status != 200:
            raise RuntimeError(f"the page after signing in answered {status}")
        return headers.get("Set-Cookie", cookie).split(";")[0] or cookie
    finally:
        connection.close()


def _cursor_path(port: int, path: str, headers: dict[str, str], page_html: bool) -> str:
    """The path of the link a page gives to the page after it (the API's `next`, the /history
    page's "Older"): what a client walking the list requests."""
    status, _, body = http_get(port, path, headers)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")
    if page_html:
        found = re.search(rb'<a class="btn btn-small" href="([^"]+)"[^>]*>Older', body)
        if found is None:
            raise RuntimeError(f"{path} has no Older link")
        return html.unescape(found.group(1).decode())
    link = json.loads(body)["next"]
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def scenarios(deep_page: int, port: int | None = None, token: str = "", cookie: str = "") -> list:
    """(name, path, credential: none | token | cookie). With a served port, the deep pages are
    also requested as a client walking the list reaches them: by the cursor of the page before's
    next/Older link (those are the judged deep rows; the `?page=N` OFFSET ones are shown)."""
    api = "/api/reports/automation/history/"
    filtered = urlencode(FILTERED)
    rows = [
        # The peer: a database query and a storage probe, what /healthz did until it became
        # liveness only (issue 22); /readyz limited to those two checks does exactly that.
        ("/healthz", "/readyz?checks=database,storage", "none"),
        ("API list page 1", f"{api}?page=1", "token"),
        ("API list page 1, filtered", f"{api}?{filtered}&page=1", "token"),
        (f"API list page {deep_page}", f"{api}?page={deep_page}", "token"),
        (f"API list page {deep_page}, filtered", f"{api}?{filtered}&page={deep_page}", "token"),
        (STATISTICS_SCENARIO, f"{api}statistics/", "token"),
        ("/history page 1", "/history/", "cookie"),
        (f"/history page {deep_page}, filtered", f"/history/?{filtered}&page={deep_page}", "cookie"),
    ]
    if port is not None:
        bearer = {"Authorization": f"Bearer {token}"}
        before = deep_page - 1
        rows += [
            (
                f"API list page {deep_page} by cursor",
                _cursor_path(port, f"{api}?page={before}", bearer, False),
                "token",
            ),
            (
                f"API list page {deep_page}, filtered, by cursor",
                _cursor_path(port, f"{api}?{filtered}&page={before}", bearer, False),
                "token",
            ),
            (
                f"/history page {deep_page}, filtered, by cursor",
                _cursor_path(port, f"/history/?{filtered}&page={before}", {"Cookie": cookie}, True),
                "cookie",
            ),
        ]
    return rows


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, chunked, close = 0, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            close = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _load(port: int, path: str, headers: str, total: int, concurrency: int, deadline: float) -> dict:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = [total]

    async def client() -> None:
        reader = writer = None
        while remaining[0] > 0 and time.monotonic() < deadline:
            remaining[0] -= 1
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            writer.write(request)
            try:
                status, close = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                reader = writer = None
                statuses[-1] = statuses.get(-1, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return {"latencies": latencies, "statuses": statuses, "seconds": time.perf_counter() - started}


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (Linux /proc), all threads."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def worker_pids(arbiter: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()]
    except OSError:
        return []


def child_load(port: int, plan: dict) -> None:
    """Every scenario in turn, `rounds` times (so that a disturbance hits all of them alike),
    after a warm-up of each; one JSON line with the latencies."""
    headers = {
        "none": "",
        "token": f"Authorization: Bearer {plan['token']}\r\n",
        "cookie": f"Cookie: {plan['cookie']}\r\n",
    }
    deadline = time.monotonic() + plan["max_seconds"]
    results: dict = {
        name: {"latencies": [], "statuses": {}, "seconds": 0.0, "cpu": 0.0, "one_worker_rounds": 0}
        for name, _, _ in plan["scenarios"]
    }
    # The server's own CPU per request (its workers' user + system time; a PostgreSQL backend's
    # is not included): unlike latency, it hardly depends on what else the machine is doing.
    pids = plan.get("worker_pids") or []
    for _name, path, credential in plan["scenarios"]:  # warm-up, not recorded
        asyncio.run(
            _load(port, path, headers[credential], plan["concurrency"] * 2, plan["concurrency"], deadline)
        )
    per_round = max(plan["concurrency"], plan["requests"] // plan["rounds"])
    for _ in range(plan["rounds"]):
        for name, path, credential in plan["scenarios"]:
            each_before = [_cpu_seconds([pid]) for pid in pids]
            got = asyncio.run(
                _load(port, path, headers[credential], per_round, plan["concurrency"], deadline)
            )
            entry = results[name]
            each = [_cpu_seconds([pid]) - before for pid, before in zip(pids, each_before, strict=True)]
            entry["cpu"] += sum(each)
            if len(each) > 1 and max(each) >= 0.9 * sum(each) > 0:
                entry["one_worker_rounds"] += 1
            entry["latencies"].extend(got["latencies"])
            entry["seconds"] += got["seconds"]
            for status, count in got["statuses"].items():
                entry["statuses"][str(status)] = entry["statuses"].get(str(status), 0) + count
    summary = {}
    for name, entry in results.items():
        values = entry["latencies"]
        summary[name] = {
            "requests": len(values),
            "statuses": entry["statuses"],
            "rps": round(len(values) / entry["seconds"], 1) if entry["seconds"] else None,
            "p50_ms": round(percentile(values, 50), 2) if values else None,
            "p95_ms": round(percentile(values, 95), 2) if values else None,
            "p99_ms": round(percentile(values, 99), 2) if values else None,
            "server_cpu_ms": round(entry["cpu"] * 1000 / len(values), 2) if values and pids else None,
            "rounds": plan["rounds"],
            "one_worker_rounds": entry["one_worker_rounds"],
        }
    emit(summary)


# ---- parent -------------------------------------------------------------------------------------


def run(databases: list[str], quick: bool, concurrency: int = 20, workers: int = 2, threads: int = 4) -> dict:
    sizes = QUICK if quick else FULL
    report: dict = {
        "sizes": sizes,
        "targets": TARGETS,
        "server": f"gunicorn -c gunicorn.conf.py: {workers} gthread workers x {threads} threads, APP_ENV=production",
        "concurrency": concurrency,
        "databases": {},
    }
    for kind in databases:
        url = database_url(kind, sizes)
        total = sizes["businesses"] * sizes["per_business"] + sizes["large"]
        print(
            f"\n== API on {kind} ({total:,} history rows; large business {sizes['large']:,}) ==", flush=True
        )
        entry: dict = {}
        report["databases"][kind] = entry
        if kind == "postgresql" and (problem := ensure_pg_database(url)):
            print(f"  skipped: {problem}", flush=True)
            entry["error"] = problem
            continue
        seeded = run_child(
            ["-m", "bench.bench_api", "_child", "seed", url, kind, json.dumps(sizes)], timeout=3600
        )
        if "error" in seeded:
            print(f"  seeding failed: {seeded}", flush=True)
            entry["error"] = seeded["error"]
            continue
        print(
            f"  database ready in {seeded['process_seconds']:.0f}s (seeded: {seeded.get('seeded')})",
            flush=True,
        )
        stats = run_child(
            ["-m", "bench.bench_api", "_child", "stats", url, kind, "20", str(sizes["deep_page"])],
            timeout=900,
        )
        if "error" in stats:
            print(f"  statistics failed: {stats['error']}\n{stats.get('stderr', '')}", flush=True)
            entry["error"] = stats["error"]
            continue
        entry["statistics"] = {k: stats[k] for k in ("typical", "large")}
        entry["explain"] = stats["explain"]
        for label, plans in stats["explain"].items():
            print(f"  EXPLAIN ({label}):", flush=True)
            for item in plans:
                print(f"    {item['sql'][:160]}...", flush=True)
                for line in item["plan"]:
                    print(f"      {line}", flush=True)
        for label in ("typical", "large"):
            figure = stats[label]
            print(
                f"  statistics, {label} business: median {figure['median_ms']:.1f} ms (p95 {figure['p95_ms']:.1f}); "
                f"count(*) floor {figure['floor_median_ms']:.2f} ms",
                flush=True,
            )
        prepared = run_child(["-m", "bench.bench_api", "_child", "prepare", url])
        if "error" in prepared:
            entry["error"] = prepared["error"]
            continue
        log_path = RESULTS_DIR / f"gunicorn_{kind}.log"
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            server = Server(url, log_path, workers, threads)
        except RuntimeError as exc:
            print(f"  server failed: {exc}", flush=True)
            entry["error"] = str(exc)
            continue
        try:
            cookie = login_cookie(server.port)
            plan = {
                "token": prepared["token"],
                "cookie": cookie,
                "scenarios": scenarios(sizes["deep_page"], server.port, prepared["token"], cookie),
                "concurrency": concurrency,
                "requests": sizes["requests"],
                # Six short rounds, not two long ones: each round's 20 connections are shared out
                # between gunicorn's two workers by whichever accepts first, and a round that one
                # worker serves alone costs every request more CPU (its four threads contend for
                # the GIL; the longer the request, the more). With two rounds a scenario's figure
                # turned on its luck in that draw; six give every scenario a similar share.
                "rounds": ROUNDS,
                "worker_pids": worker_pids(server.process.pid),
                "max_seconds": 900,
            }
            load = run_child(
                ["-m", "bench.bench_api", "_child", "load", str(server.port), json.dumps(plan)], timeout=1000
            )
        finally:
            server.stop()
        if "error" in load:
            print(f"  load failed: {load['error']}\n{load.get('stderr', '')}", flush=True)
            entry["error"] = load["error"]
            continue
        load.pop("process_seconds", None)
        load.pop("peak_mb", None)
        entry["load"] = load
        print(f"  {concurrency} concurrent clients, {report['server']}:", flush=True)
        print(
            f"    {'endpoint':<34} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'CPU ms/req':>10}  statuses",
            flush=True,
        )
        for name, figure in load.items():
            print(
                f"    {name:<34} {figure['requests']:>8} {figure['rps'] or 0:>7} {figure['p50_ms'] or 0:>8.1f} "
                f"{figure['p95_ms'] or 0:>8.1f} {figure['p99_ms'] or 0:>8.1f} "
                f"{figure.get('server_cpu_ms') or 0:>10.2f}  {figure['statuses']}",
                flush=True,
            )
    return report


def _latency_targeted(name: str) -> bool:
    # An OFFSET deep page (`?page=500`) is shown: clients reach deep pages by the links' cursors.
    offset_deep = re.fullmatch(r"(API list|/history) page (?!1\b)\d+(, filtered)?", name)
    return name != "/healthz" and not offset_deep


def _cpu_detail(figure: dict, health: dict) -> str:
    cpu, peer = figure.get("server_cpu_ms"), health.get("server_cpu_ms")
    if cpu is None:
        return "CPU n/a"
    return f"{cpu} ms CPU" + (f" = {cpu / peer:.1f}x /healthz" if peer else "")


def _one_worker_detail(figure: dict) -> str:
    if "one_worker_rounds" not in figure:
        return ""
    return f"; rounds on one worker: {figure['one_worker_rounds']} of {figure['rounds']}"


def rows(report: dict) -> list[dict]:
    """The harness's table rows."""
    out = []
    for kind, entry in report["databases"].items():
        if "error" in entry and "statistics" not in entry:
            out.append({"figure": f"API on {kind}", "value": None, "error": str(entry["error"])})
            continue
        for label, key in (("typical", "stats_typical_ms"), ("large", "stats_large_ms")):
            figure = entry["statistics"][label]
            out.append(
                {
                    "figure": f"{kind}: statistics, {label} business (ms, median)",
                    "value": figure["median_ms"],
                    "peer": figure["floor_median_ms"],
                    "peer_name": "count(*)",
                    "target": f"< {TARGETS[key]:g} ms",
                    "ok": figure["median_ms"] < TARGETS[key],
                }
            )
        load = entry.get("load")
        if not load:
            out.append({"figure": f"{kind}: load", "value": None, "error": str(entry.get("error"))})
            continue
        health = load.get("/healthz", {})
        out.append(
            {
                "figure": f"{kind}: /healthz p95 (ms; p50/p95/p99; server CPU/request)",
                "value": health.get("p95_ms"),
                "detail": f"{health.get('p50_ms')}/{health.get('p95_ms')}/{health.get('p99_ms')}; "
                f"{health.get('server_cpu_ms')} ms CPU" + _one_worker_detail(health),
                "target": "peer",
                "ok": None,
            }
        )
        for name, figure in load.items():
            if name == "/healthz":
                continue
            errors = sum(n for status, n in figure["statuses"].items() if status != "200")
            judged = _latency_targeted(name)
            ratio = (
                round(figure["p95_ms"] / health["p95_ms"], 2)
                if figure.get("p95_ms") and health.get("p95_ms")
                else None
            )
            cpu, peer_cpu = figure.get("server_cpu_ms"), health.get("server_cpu_ms")
            # Issue 21's targets are the two ratios. The older absolute p95 (< 50 ms, issue 9) is
            # shown beside them: /healthz's own p95 under this load is 30-50 ms on a 2-core machine.
            under_absolute = figure["p95_ms"] is not None and figure["p95_ms"] < TARGETS["p95_ms"]
            ok = (
                not errors
                and figure["p95_ms"] is not None
                and ratio is not None
                and ratio <= TARGETS["p95_vs_healthz"]
                and (cpu is None or not peer_cpu or cpu / peer_cpu <= TARGETS["cpu_vs_healthz"])
            )
            out.append(
                {
                    "figure": f"{kind}: {name} p95 (ms; p50/p95/p99; server CPU/request)",
                    "value": figure["p95_ms"],
                    "detail": f"{figure['p50_ms']}/{figure['p95_ms']}/{figure['p99_ms']}; "
                    + _cpu_detail(figure, health)
                    + f"; p95 < {TARGETS['p95_ms']:g} ms: {'yes' if under_absolute else 'no'}"
                    + _one_worker_detail(figure)
                    + (f", {errors} non-200" if errors else ""),
                    "peer": health.get("p95_ms"),
                    "peer_name": "/healthz p95",
                    "ratio": ratio,
                    "target": f"<= {TARGETS['p95_vs_healthz']:g}x, CPU <= {TARGETS['cpu_vs_healthz']:g}x"
                    if judged
                    else "shown",
                    "ok": ok if judged else None,
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="100 + 1 businesses, 120,000 rows, fewer requests"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "api.json")
    args = parser.parse_args(argv)
    report = run(
        [d for d in args.databases.split(",") if d], args.quick, args.concurrency, args.workers, args.threads
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str))
    for row in rows(report):
        print(row)
    return 0


def child_main(argv: list[str]) -> None:
    kind, url = argv[0], argv[1]
    if kind == "seed":
        child_seed(argv[2], url, json.loads(argv[3]))
    elif kind == "stats":
        child_stats(argv[2], url, int(argv[3]), int(argv[4]))
    elif kind == "prepare":
        child_prepare(url)
    elif kind == "load":
        child_load(int(url), json.loads(argv[2]))
    else:
        raise SystemExit(f"unknown child {kind!r}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child_main(sys.argv[2:])
    else:
        sys.exit(main())
