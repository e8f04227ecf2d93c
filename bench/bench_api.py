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
  ms and p95 as a ratio to /healthz measured in the same rounds.
Targets (issue 9): statistics < 20 ms typical, < 100 ms large; list and page p95 < 50 ms and
within 3x of /healthz.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics as stats_module
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

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
TARGETS = {"stats_typical_ms": 20.0, "stats_large_ms": 100.0, "p95_ms": 50.0, "p95_vs_healthz": 3.0}
FILTERED = {"status": "COMPLETED", "export_type": "SALES"}
FULL = {"businesses": 1000, "per_business": 1000, "large": 100_000, "requests": 1600, "deep_page": 500}
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
                "file_path": f"exports/{business_id}/{name}" if ok and now - created < timedelta(days=30) else "",
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
        return total == sizes["businesses"] * sizes["per_business"] + sizes["large"] and large == sizes["large"]
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
                {"id": business_id, "name": name, "timezone": TIMEZONES[index % len(TIMEZONES)], "currency": "USD"}
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
    from dashboard.services import history

    app = _app(url)
    result: dict = {"explain": {}}
    with app.app_context():
        large = db.session.scalar(select(Business).where(Business.name == LARGE_NAME))
        typical = db.session.scalar(select(Business).where(Business.name == "Bench API 0042"))
        for label, business in (("typical", typical), ("large", large)):
            times = _timed(lambda b=business: history.statistics(b), repeat)
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
            ("statistics", lambda: history.statistics(large)),
            (
                f"history list page {deep_page} filtered",
                lambda: history.paginate(
                    history.history_query(large, FILTERED), deep_page, 20, lambda n: str(n)
                ),
            ),
        ):
            plans = []
            for sql, params in _captured(call):
                if sql.lstrip().upper().startswith("SELECT"):
                    plans.append({"sql": " ".join(sql.split())[:300], "plan": _explain(connection, kind, sql, params)})
            result["explain"][label] = plans
    emit(result)


def child_main(argv: list[str]) -> None:
    kind, url = argv[0], argv[1]
    if kind == "seed":
        child_seed(argv[2], url, json.loads(argv[3]))
    elif kind == "stats":
        child_stats(argv[2], url, int(argv[3]), int(argv[4]))
    else:
        raise SystemExit(f"unknown child {kind!r}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child_main(sys.argv[2:])
    else:
        sys.exit(main())
