"""Scheduler at scale: polling 100,000 schedules and claiming 1,000 due ones.

    .venv/bin/python -m bench.bench_scheduler [--quick] [--databases sqlite,postgresql]

Data: 100,000 schedules over 100 businesses (SQLAlchemy Core executemany, into a database
migrated by the project's Alembic revisions): 60% inactive (half of those with a stale
next_run_at in the past, as a deactivated schedule keeps it), 40% active and due within the next
30 days. Kept between runs (SQLite under /tmp, PostgreSQL `bench_sched`) while the counts match.

Measured, per database, through the runner's own code in a fresh process:
- poll: `ScheduledExportRunner.claim_due_schedules(now)` with nothing due (the query the
  scheduler runs every SCHEDULER_POLL_SECONDS), median of 200; and the whole scheduler tick
  (`jobs.check_and_run_scheduled_exports`: stale-run recovery, claims, dispatch). Floor: a
  `SELECT 1` round trip through the same session.
- claim: 1,000 schedules made due, then one `claim_due_schedules(now)`: for each, the compare-
  and-set UPDATE of next_run_at and the PENDING history insert, one transaction each (no export
  runs). Median of 3. Floor: the same 1,000 UPDATE + INSERT + COMMIT on the bare DB-API cursor.
- EXPLAIN (SQLite: EXPLAIN QUERY PLAN) of the poll query exactly as the runner sent it.
Targets (issue 9): poll < 10 ms, 1,000 claims < 1 s, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics as stats_module
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    RESULTS_DIR,
    child_env,
    emit,
    ensure_pg_database,
    percentile,
    pg_url,
    run_child,
    upgrade_database,
)

TARGETS = {"poll_ms": 10.0, "claim_1000_s": 1.0}
FULL = {"schedules": 100_000, "due": 1000, "polls": 200, "claims": 3}
QUICK = {"schedules": 20_000, "due": 1000, "polls": 50, "claims": 1}
BUSINESSES = 100
MARK = "bench-due"  # the name prefix of the schedules a claim round makes due


def sqlite_path(sizes: dict) -> Path:
    return Path(f"/tmp/bench_sched_{sizes['schedules']}.sqlite3")


def database_url(kind: str, sizes: dict) -> str:
    if kind == "sqlite":
        return f"sqlite:///{sqlite_path(sizes)}"
    return pg_url("bench_sched" if sizes == FULL else "bench_sched_quick")


def _app(url: str):
    from dashboard import create_app

    # EXPORT_SYNC stays off, as in production: claims never run an export inline.
    return create_app(None, SQLALCHEMY_DATABASE_URI=url, SCHEDULER_ENABLED=False, EXPORT_SYNC=False)


# ---- seeding ------------------------------------------------------------------------------------


def _count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM export_schedules")).scalar() or 0
    except Exception:
        return -1
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
    started = time.perf_counter()
    seeded = _count(url) != sizes["schedules"]
    if seeded:
        _wipe(url, kind, sizes)
        upgrade_database(url)
        _seed(url, sizes)
    else:
        upgrade_database(url)
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE" if kind == "postgresql" else "ANALYZE"))
    engine.dispose()
    emit({"seeded": seeded, "seconds": round(time.perf_counter() - started, 1)})


def _seed(url: str, sizes: dict) -> None:
    from sqlalchemy import insert

    from dashboard.extensions import db
    from dashboard.models.automation import ExportSchedule
    from dashboard.models.pos import Business, Membership, User

    rng = random.Random("bench-scheduler")
    now = datetime.now(UTC).replace(microsecond=0)
    app = _app(url)
    with app.app_context():
        businesses, users, memberships = [], [], []
        for i in range(BUSINESSES):
            business_id, user_id = uuid.UUID(int=rng.getrandbits(128)), uuid.UUID(int=rng.getrandbits(128))
            businesses.append({"id": business_id, "name": f"Bench Scheduler {i:03d}", "timezone": "UTC"})
            users.append({"id": user_id, "email": f"owner{i}@bench-sched.example.com", "name": f"Owner {i}"})
            memberships.append({"user_id": user_id, "business_id": business_id, "role": "owner"})
        db.session.execute(insert(Business), businesses)
        db.session.execute(insert(User), users)
        db.session.execute(insert(Membership), memberships)
        zones = ("UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney")
        batch = []
        for n in range(sizes["schedules"]):
            owner = n % BUSINESSES
            frequency = rng.choice(("DAILY", "WEEKLY", "MONTHLY"))
            active = rng.random() < 0.4
            if active:
                next_run = now + timedelta(seconds=rng.randrange(3600, 30 * 86400))
            elif rng.random() < 0.5:
                next_run = now - timedelta(seconds=rng.randrange(60, 365 * 86400))  # stale, inactive
            else:
                next_run = None
            batch.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "business_id": businesses[owner]["id"],
                    "created_by_id": users[owner]["id"],
                    "name": f"Schedule {n}",
                    "export_type": rng.choice(("SALES", "CUSTOMERS", "INVENTORY", "AUDIT_LOGS")),
                    "format": rng.choice(("excel", "csv", "pdf")),
                    "frequency": frequency,
                    "hour": rng.randrange(24),
                    "minute": rng.choice((0, 15, 30, 45)),
                    "day_of_week": rng.randrange(7) if frequency == "WEEKLY" else None,
                    "day_of_month": rng.randrange(1, 29) if frequency == "MONTHLY" else None,
                    "timezone": rng.choice(zones),
                    "recipients": ["accounts@example.com"],
                    "filters": {"date_range": "yesterday"},
                    "is_active": active,
                    "next_run_at": next_run,
                }
            )
            if len(batch) == 10_000:
                db.session.execute(insert(ExportSchedule), batch)
                batch = []
        if batch:
            db.session.execute(insert(ExportSchedule), batch)
        db.session.commit()


# ---- measuring ----------------------------------------------------------------------------------


def _explain(connection, kind: str, sql: str, params) -> list[str]:
    if kind == "sqlite":
        return [str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    return [row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params)]


def _make_due(now: datetime, count: int) -> list:
    """Make `count` active schedules due one minute ago; their ids."""
    from sqlalchemy import delete, select, update

    from dashboard.extensions import db
    from dashboard.models.automation import ExportHistory, ExportSchedule

    db.session.execute(delete(ExportHistory))
    ids = list(
        db.session.scalars(
            select(ExportSchedule.id)
            .where(ExportSchedule.is_active.is_(True))
            .order_by(ExportSchedule.id)
            .limit(count)
        )
    )
    db.session.execute(
        update(ExportSchedule)
        .where(ExportSchedule.id.in_(ids))
        .values(next_run_at=now - timedelta(minutes=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return ids


def _keep_in_the_future(now: datetime) -> int:
    """A kept database ages: schedules seeded to come due within the hour do come due. Move every
    active schedule due within the next hour to a month from now, so that "nothing due" stays true."""
    from sqlalchemy import update

    from dashboard.extensions import db
    from dashboard.models.automation import ExportSchedule

    moved = db.session.execute(
        update(ExportSchedule)
        .where(ExportSchedule.is_active.is_(True), ExportSchedule.next_run_at <= now + timedelta(hours=1))
        .values(next_run_at=now + timedelta(days=30))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return moved


def _restore(ids: list, now: datetime) -> None:
    from sqlalchemy import delete, update

    from dashboard.extensions import db
    from dashboard.models.automation import ExportHistory, ExportSchedule

    db.session.execute(delete(ExportHistory))
    db.session.execute(
        update(ExportSchedule)
        .where(ExportSchedule.id.in_(ids))
        .values(next_run_at=now + timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _floor_claims(kind: str, ids: list, now: datetime) -> float:
    """The same 1,000 compare-and-set UPDATEs and history INSERTs, one COMMIT each (with the
    runner's durability setting), on the DB-API cursor with no ORM and no occurrence arithmetic:
    the least a claim can cost here. The connection is closed (not pooled) afterwards."""
    import json as json_module

    from dashboard.extensions import db

    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        p = "?" if kind == "sqlite" else "%s"

        def value(v):
            if kind == "sqlite":
                if isinstance(v, uuid.UUID):
                    return str(v)
                if isinstance(v, datetime):
                    return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            return v

        seen = now - timedelta(minutes=1)
        next_at = now + timedelta(days=1)
        if kind == "postgresql":  # as the runner's claims commit (see runner._claim_durability)
            cursor.execute("SET synchronous_commit TO OFF")
            raw.commit()
        # Written with "?" and given the driver's placeholder style.
        claim_sql = (
            "UPDATE export_schedules SET next_run_at = ?, last_run_at = ? "
            "WHERE id = ? AND next_run_at = ? AND is_active = ?"
        ).replace("?", p)
        insert_sql = (
            "INSERT INTO export_history (id, business_id, schedule_id, schedule_name, export_type, "
            'format, "trigger", status, file_name, file_size, file_path, record_count, truncated, '
            "filters_applied, send_email, email_sent, email_recipients, email_delivery, "
            "error_message, error_traceback, created_at, occurrence_at, attempt, progress) "
            "SELECT ?, business_id, id, name, export_type, format, 'SCHEDULED', 'PENDING', '', 0, "
            "'', 0, ?, ?, ?, ?, '[]', '[]', '', '', ?, ?, 1, 0 FROM export_schedules WHERE id = ?"
        ).replace("?", p)
        filters = json_module.dumps({"date_range": "yesterday"})
        started = time.perf_counter()
        for schedule_id in ids:
            cursor.execute(claim_sql, [value(next_at), value(now), value(schedule_id), value(seen), True])
            if cursor.rowcount == 1:
                cursor.execute(
                    insert_sql,
                    [
                        value(uuid.uuid4()),
                        False,
                        filters,
                        True,
                        False,
                        value(now),
                        value(seen),
                        value(schedule_id),
                    ],
                )
            raw.commit()
        return time.perf_counter() - started
    finally:
        raw.invalidate()


def child_measure(kind: str, url: str, sizes: dict) -> None:
    from sqlalchemy import event, text

    from dashboard.automation import jobs
    from dashboard.automation.runner import ScheduledExportRunner
    from dashboard.extensions import db

    app = _app(url)
    result: dict = {}
    with app.app_context():
        runner = ScheduledExportRunner()
        now = datetime.now(UTC)
        _keep_in_the_future(now)

        # 1. Nothing due: the poll query, and the whole tick.
        captured: list = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", listener)
        summary = runner.claim_due_schedules(now)
        event.remove(db.engine, "before_cursor_execute", listener)
        assert summary["due"] == 0, summary
        poll_sql = next(
            (s, p) for s, p in captured if "export_schedules" in s and s.lstrip().startswith("SELECT")
        )
        plan = _explain(db.session.connection(), kind, *poll_sql)
        db.session.rollback()

        def timed(call, n):
            call()
            values = []
            for _ in range(n):
                started = time.perf_counter()
                call()
                values.append((time.perf_counter() - started) * 1000)
            return values

        poll = timed(lambda: runner.claim_due_schedules(now), sizes["polls"])
        tick = timed(lambda: jobs.check_and_run_scheduled_exports(now), max(20, sizes["polls"] // 4))

        def select_one():
            db.session.execute(text("SELECT 1"))
            db.session.rollback()

        floor = timed(select_one, sizes["polls"])
        result["poll"] = {
            "median_ms": round(stats_module.median(poll), 3),
            "p95_ms": round(percentile(poll, 95), 3),
            "tick_median_ms": round(stats_module.median(tick), 3),
            "tick_p95_ms": round(percentile(tick, 95), 3),
            "floor_median_ms": round(stats_module.median(floor), 3),
            "sql": " ".join(poll_sql[0].split()),
            "plan": plan,
        }

        # 2. 1,000 due: claim them all, through the runner; then the bare-cursor floor.
        claims, floors = [], []
        for _ in range(sizes["claims"]):
            ids = _make_due(now, sizes["due"])
            started = time.perf_counter()
            summary = runner.claim_due_schedules(now)
            claims.append(time.perf_counter() - started)
            assert summary["claimed"] == sizes["due"], summary
            _restore(ids, now)
            ids = _make_due(now, sizes["due"])
            floors.append(_floor_claims(kind, ids, now))
            _restore(ids, now)
        result["claim"] = {
            "due": sizes["due"],
            "seconds": round(stats_module.median(claims), 3),
            "all_seconds": [round(c, 3) for c in claims],
            "floor_seconds": round(stats_module.median(floors), 3),
        }
        if "--profile" in sys.argv:
            import cProfile
            import io
            import pstats

            ids = _make_due(now, sizes["due"])
            profiler = cProfile.Profile()
            profiler.enable()
            runner.claim_due_schedules(now)
            profiler.disable()
            _restore(ids, now)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            result["claim"]["profile"] = out.getvalue()
    emit(result)


# ---- parent -------------------------------------------------------------------------------------


def run(databases: list[str], quick: bool, profile: bool = False) -> dict:
    sizes = QUICK if quick else FULL
    report: dict = {"sizes": sizes, "targets": TARGETS, "databases": {}}
    for kind in databases:
        url = database_url(kind, sizes)
        print(f"\n== scheduler on {kind} ({sizes['schedules']:,} schedules) ==", flush=True)
        if kind == "postgresql" and (problem := ensure_pg_database(url)):
            print(f"  skipped: {problem}", flush=True)
            report["databases"][kind] = {"error": problem}
            continue
        seeded = run_child(["-m", "bench.bench_scheduler", "_child", "seed", url, kind, json.dumps(sizes)])
        if "error" in seeded:
            print(f"  seeding failed: {seeded}", flush=True)
            report["databases"][kind] = {"error": seeded["error"]}
            continue
        if seeded.get("seeded"):
            print(f"  seeded in {seeded['process_seconds']:.0f}s", flush=True)
        args = ["-m", "bench.bench_scheduler", "_child", "measure", url, kind, json.dumps(sizes)]
        if profile:
            args.append("--profile")
        result = run_child(args, env=child_env(), timeout=900)
        if "error" in result:
            print(f"  FAILED: {result.get('error')}\n{result.get('stderr', '')}", flush=True)
            report["databases"][kind] = {"error": result["error"]}
            continue
        poll, claim = result["poll"], result["claim"]
        print(f"  poll query: {poll['sql']}", flush=True)
        print("  plan:\n    " + "\n    ".join(poll["plan"]), flush=True)
        print(
            f"  poll (nothing due): median {poll['median_ms']:.2f} ms, p95 {poll['p95_ms']:.2f} ms; "
            f"whole tick {poll['tick_median_ms']:.2f} ms; SELECT 1 floor {poll['floor_median_ms']:.2f} ms",
            flush=True,
        )
        print(
            f"  claim {claim['due']:,} due: {claim['seconds']:.3f} s (runs {claim['all_seconds']}); "
            f"bare-cursor floor {claim['floor_seconds']:.3f} s",
            flush=True,
        )
        if claim.get("profile"):
            print(claim["profile"], flush=True)
        report["databases"][kind] = result
    return report


def rows(report: dict) -> list[dict]:
    """The harness's table rows."""
    out = []
    for kind, result in report["databases"].items():
        if "error" in result:
            out.append({"figure": f"scheduler on {kind}", "value": None, "error": str(result["error"])})
            continue
        poll, claim = result["poll"], result["claim"]
        n = report["sizes"]["schedules"]
        out.append(
            {
                "figure": f"{kind}: poll, nothing due, {n:,} schedules (ms, median)",
                "value": poll["median_ms"],
                "peer": poll["floor_median_ms"],
                "peer_name": "SELECT 1",
                "target": f"< {TARGETS['poll_ms']:g} ms",
                "ok": poll["median_ms"] < TARGETS["poll_ms"],
            }
        )
        out.append(
            {
                "figure": f"{kind}: whole scheduler tick, nothing due (ms, median)",
                "value": poll["tick_median_ms"],
                "peer": poll["floor_median_ms"],
                "peer_name": "SELECT 1",
                "target": f"< {TARGETS['poll_ms']:g} ms",
                "ok": poll["tick_median_ms"] < TARGETS["poll_ms"],
            }
        )
        out.append(
            {
                "figure": f"{kind}: claim {claim['due']:,} due schedules (s)",
                "value": claim["seconds"],
                "peer": claim["floor_seconds"],
                "peer_name": "bare cursor",
                "target": f"< {TARGETS['claim_1000_s']:g} s",
                "ok": claim["seconds"] < TARGETS["claim_1000_s"],
            }
        )
        uses_index = any("ix_export_schedules_active_next_run" in line for line in poll["plan"])
        out.append(
            {
                "figure": f"{kind}: poll plan uses (is_active, next_run_at) index",
                "value": "yes" if uses_index else "no",
                "target": "yes",
                "ok": uses_index,
            }
        )
    return out


def child_main(argv: list[str]) -> None:
    kind, url, db_kind, sizes = argv[0], argv[1], argv[2], json.loads(argv[3])
    if kind == "seed":
        child_seed(db_kind, url, sizes)
    elif kind == "measure":
        child_measure(db_kind, url, sizes)
    else:
        raise SystemExit(f"unknown child {kind!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20,000 schedules, fewer repetitions")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one claim round")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "scheduler.json")
    args = parser.parse_args(argv)
    report = run([d for d in args.databases.split(",") if d], args.quick, args.profile)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str))
    for row in rows(report):
        print(row)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child_main(sys.argv[2:])
    else:
        sys.exit(main())
