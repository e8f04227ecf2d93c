"""Exactly once across real processes: hundreds of schedules come due together while four
processes poll one database (a SQLite file, or PostgreSQL in the PostgreSQL pass): three
pollers like the in-app scheduler's, and a shell loop of the real `flask exports run-due`."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from dashboard.extensions import db
from dashboard.models import Business, ExportHistory, ExportSchedule
from tests.automation.runner_helpers import FLASK, add_products

pytestmark = pytest.mark.slow

SCHEDULES = 200


def _seed(app, due: datetime) -> uuid.UUID:
    with app.app_context():
        business = Business(name="Many Schedules", timezone="UTC")
        db.session.add(business)
        db.session.commit()
        add_products(business, 5)
        rows = [
            dict(
                id=uuid.uuid4(),
                business_id=business.id,
                name=f"Schedule {i}",
                export_type="INVENTORY",
                format="csv",
                frequency="DAILY",
                hour=due.hour,
                minute=due.minute,
                timezone="UTC",
                recipients=[],
                include_creator_email=False,
                email_subject="",
                email_message="",
                filters={},
                skip_if_empty=False,
                is_active=True,
                next_run_at=due,
                created_at=due - timedelta(days=1),
                updated_at=due - timedelta(days=1),
            )
            for i in range(SCHEDULES)
        ]
        db.session.execute(insert(ExportSchedule), rows)
        db.session.commit()
        return business.id


def test_hundreds_of_schedules_due_together_run_exactly_once_across_processes(shared_db):
    app = shared_db.app()
    start = time.time() + 3.0  # every process is up and polling before anything is due
    due_epoch = start + 1.0
    due = datetime.fromtimestamp(due_epoch, UTC).replace(microsecond=0)
    due_epoch = due.timestamp()
    _seed(app, due)
    deadline = due_epoch + 90
    env = dict(EXPORT_WORKERS=2)
    pollers = [shared_db.worker("poll", str(start), str(due_epoch), str(deadline), **env) for _ in range(3)]
    # and the real CLI, in a shell loop, as cron would run it
    loop = shared_db.spawn(
        [
            "bash",
            "-c",
            f'while [ "$(date +%s)" -lt {int(due_epoch) + 1} ]; do sleep 0.1; done; '
            f'for i in 1 2 3; do "{FLASK}" exports run-due || exit 1; done',
        ],
        **env,
    )

    results = [shared_db.result(p, timeout=120) for p in pollers]
    out, err = loop.communicate(timeout=120)
    assert loop.returncode == 0, err[-3000:]
    cli_lines = [line for line in out.splitlines() if line.startswith("run-due:")]
    assert len(cli_lines) == 3

    def cli_sum(key: str) -> int:
        return sum(int(re.search(rf"(\d+) {key}", line).group(1)) for line in cli_lines)

    claimed = sum(r.get("claimed", 0) for r in results) + cli_sum("claimed")
    completed = sum(r.get("completed", 0) for r in results) + cli_sum("completed")
    failed = sum(r.get("failed", 0) for r in results) + cli_sum("failed")

    with app.app_context():
        per_schedule = db.session.execute(
            select(
                ExportHistory.schedule_id, ExportHistory.occurrence_at, func.count(ExportHistory.id)
            ).group_by(ExportHistory.schedule_id, ExportHistory.occurrence_at)
        ).all()
        statuses = dict(
            db.session.execute(
                select(ExportHistory.status, func.count(ExportHistory.id)).group_by(ExportHistory.status)
            ).all()
        )
        without_file = db.session.scalar(
            select(func.count(ExportHistory.id)).where(ExportHistory.file_path == "")
        )
        next_runs = db.session.scalars(select(ExportSchedule.next_run_at)).all()

    # one run per schedule and occurrence...
    assert len(per_schedule) == SCHEDULES
    assert all(count == 1 and occurrence == due for _, occurrence, count in per_schedule)
    # ...claimed once and executed once: the processes' own counts add up to exactly that
    assert claimed == SCHEDULES, results
    assert completed == SCHEDULES and failed == 0, results
    assert statuses == {"COMPLETED": SCHEDULES}
    assert without_file == 0
    assert all(n > due for n in next_runs)
    # the work was shared: more than one process claimed and ran schedules
    assert sum(1 for r in results if r.get("completed")) + (1 if cli_sum("completed") else 0) >= 2


def test_poll_query_uses_the_index_and_stays_cheap(shared_db):
    """100,000 schedules, a handful due: one poll takes milliseconds."""
    from dashboard.automation.runner import ScheduledExportRunner
    from dashboard.models.types import utcnow

    app = shared_db.app()
    now = utcnow()
    with app.app_context():
        business = Business(name="Huge", timezone="UTC")
        db.session.add(business)
        db.session.commit()
        _insert_many_schedules(business.id, now, 100_000)
        assert db.session.scalar(select(func.count(ExportSchedule.id))) == 100_000
        assert db.session.scalar(select(func.min(ExportSchedule.next_run_at))) > now
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(db.text("ANALYZE export_schedules"))
            db.session.commit()
        runner = ScheduledExportRunner()
        runner.claim_due_schedules(now)  # warm up
        started = time.perf_counter()
        for _ in range(20):
            summary = runner.claim_due_schedules(now)
        per_poll = (time.perf_counter() - started) / 20
        assert summary["due"] == 0
        assert per_poll < 0.05, f"{per_poll * 1000:.1f} ms per poll"
        plan = _plan(now)
        assert "ix_export_schedules_active_next_run" in plan, plan
        print(f"poll over 100,000 schedules: {per_poll * 1000:.2f} ms; plan: {plan}")


def _insert_many_schedules(business_id: uuid.UUID, now: datetime, count: int) -> None:
    """Generated by the database itself: one statement instead of 100,000 bound rows."""
    columns = (
        "id, business_id, name, export_type, format, frequency, hour, minute, timezone, recipients, "
        "include_creator_email, email_subject, email_message, filters, skip_if_empty, is_active, "
        "next_run_at, created_at, updated_at"
    )
    naive_now = now.replace(tzinfo=None)
    if db.engine.dialect.name == "postgresql":
        sql = (
            f"INSERT INTO export_schedules ({columns}) SELECT gen_random_uuid(), :business, 's' || g, "
            "'INVENTORY', 'csv', 'DAILY', 3, 0, 'UTC', '[]'::jsonb, false, '', '', '{}'::jsonb, false, "
            "g % 7 <> 0, CAST(:now AS timestamp) + (1 + g % 1440) * interval '1 minute', :now, :now "
            "FROM generate_series(1, :count) AS g"
        )
        business = business_id
    else:
        uuid_sql = (
            "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
            "substr(lower(hex(randomblob(2))), 2) || '-8' || substr(lower(hex(randomblob(2))), 2) || '-' || "
            "lower(hex(randomblob(6)))"
        )
        sql = (
            f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) "
            f"INSERT INTO export_schedules ({columns}) SELECT {uuid_sql}, :business, 's' || n, "
            "'INVENTORY', 'csv', 'DAILY', 3, 0, 'UTC', '[]', 0, '', '', '{}', 0, n % 7 <> 0, "
            "strftime('%Y-%m-%d %H:%M:%f000', :now, '+' || (1 + n % 1440) || ' minutes'), :now, :now FROM g"
        )
        business = str(business_id)
        naive_now = naive_now.isoformat(sep=" ")
    db.session.execute(db.text(sql), {"business": business, "now": naive_now, "count": count})


def _plan(now: datetime) -> str:
    from sqlalchemy import true

    query = (
        select(ExportSchedule.id)
        .where(ExportSchedule.is_active == true(), ExportSchedule.next_run_at <= now)
        .order_by(ExportSchedule.next_run_at, ExportSchedule.id)
        .limit(200)
    )
    compiled = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(db.text("EXPLAIN QUERY PLAN " + compiled)).all()
        return " | ".join(str(r[-1]) for r in rows)
    rows = db.session.execute(db.text("EXPLAIN " + compiled)).all()
    return " | ".join(r[0] for r in rows)


def test_cli_commands_do_not_start_the_scheduler(shared_db):
    result = shared_db.cli(
        "exports", "run-due", SCHEDULER_ENABLED=1, SCHEDULER_POLL_SECONDS=1, LOG_LEVEL="INFO"
    )
    assert result.returncode == 0, result.stderr
    assert "export scheduler started" not in result.stderr
    assert result.stdout.startswith("run-due: 0 due")
