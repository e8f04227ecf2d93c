"""Sizing figures for docs/operations.md: peak memory of one export per type and format at 10,000 and
50,000 rows (each in a fresh process, as a worker would run it), and database and storage growth per
1,000 runs.

    .venv/bin/python -m bench.sizing [--database postgresql+psycopg://...] [--rows 10000,50000] [--runs 200]

A database is filled once (sales, customers, products, audit entries: max(rows) of each), then every
export runs in its own child process through generate_export(); the child's peak RSS (ru_maxrss)
is what one worker process needs for that export on top of nothing else. Growth: `--runs` scheduled
runs of a daily SALES Excel export (with their mail rows and audit entries) are executed through the
runner; the table sizes and stored bytes before and after, scaled to 1,000 runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.common import child_env, run_child

TYPES = ("SALES", "CUSTOMERS", "INVENTORY", "AUDIT_LOGS")
FORMATS = ("csv", "excel", "pdf")


def business_name(rows: int) -> str:
    return f"Sizing {rows}"


def _app(url: str, root: Path):
    from config import Config
    from dashboard import create_app

    class Settings(Config):
        SQLALCHEMY_DATABASE_URI = url
        SCHEDULER_ENABLED = False
        LOG_LEVEL = "WARNING"
        EXPORT_SYNC = True

    return create_app(Settings, EXPORT_ROOT=str(root / "exports"), MAIL_OUTBOX_DIR=str(root / "outbox"))


def fill(url: str, sizes: list[int]) -> None:
    """For each size, a business with that many sales (demo seed), customers, products and audit entries."""

    from dashboard import demo
    from dashboard.extensions import db
    from dashboard.models import Business

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(url, Path(tmp))
        with app.app_context():
            db.drop_all()
            db.create_all()
            for rows in sizes:
                demo.seed_business(business_name(rows), sales=rows, timezone="UTC")
                _fill_business(db.session.query(Business).filter_by(name=business_name(rows)).one(), rows)
            demo._sync_sequences()
            db.session.commit()


def _fill_business(business, rows: int) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from dashboard.extensions import db
    from dashboard.models import AuditLog, Customer, Product

    # The demo seed added a few of each: top them up to `rows`.
    now = datetime.now(UTC).replace(tzinfo=None)
    for model, make in (
        (
            Customer,
            lambda n: {
                "name": f"Customer {n}",
                "email": f"c{n}@example.com",
                "phone": "+1 555 0100",
                "created_at": now,
                "visits": n % 40,
                "total_spent_cents": n * 7,
            },
        ),
        (
            Product,
            lambda n: {
                "sku": f"SZ-{n:07d}",
                "name": f"Product {n}",
                "category": f"Cat {n % 30}",
                "quantity_on_hand": n % 500,
                "unit_cost_cents": 100 + n % 900,
                "retail_price_cents": 250 + n % 1500,
            },
        ),
        (
            AuditLog,
            lambda n: {
                "created_at": now - timedelta(minutes=n),
                "action": "sale.created",
                "entity": "sale",
                "entity_id": str(n),
                "details": "till 1, a line of details",
                "ip_address": "10.0.0.9",
            },
        ),
    ):
        batch = []
        existing = db.session.query(model).filter_by(business_id=business.id).count()
        for n in range(rows - existing):
            batch.append({"business_id": business.id, **make(n)})
            if len(batch) == 5000:
                db.session.execute(insert(model.__table__), batch)
                batch.clear()
        if batch:
            db.session.execute(insert(model.__table__), batch)
    db.session.commit()


def one_export(url: str, export_type: str, fmt: str, rows: int) -> dict:
    """In a child: one export, limited to `rows` rows by its date range or the PDF cap."""
    from dashboard.exports.service import generate_export
    from dashboard.extensions import db
    from dashboard.models import Business

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(url, Path(tmp))
        with app.app_context():
            business = db.session.query(Business).filter_by(name=business_name(rows)).one()
            filters = {}
            if export_type in ("SALES", "AUDIT_LOGS"):
                filters = {"start_date": "2000-01-01", "end_date": "2100-01-01"}
            started = time.perf_counter()
            result = generate_export(
                business, export_type, fmt, filters, out_dir=Path(tmp), pdf_max_rows=rows
            )
            return {
                "records": result.record_count,
                "size": result.size,
                "seconds": round(time.perf_counter() - started, 2),
            }


def growth(url: str, runs: int, rows: int) -> dict:
    """Table and storage bytes added by `runs` scheduled runs (with mail and audit rows)."""
    from datetime import timedelta

    from sqlalchemy import text

    from dashboard.automation.runner import ScheduledExportRunner
    from dashboard.extensions import db
    from dashboard.models import Business, Membership, User
    from dashboard.models.automation import ExportSchedule

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        app = _app(url, root)
        with app.app_context():
            business = db.session.query(Business).filter_by(name=business_name(rows)).one()
            owner = User(email="sizing-owner@example.com", name="Owner")
            db.session.add_all([owner, Membership(user=owner, business=business, role="owner")])
            schedule = ExportSchedule(
                business_id=business.id,
                created_by_id=owner.id,
                name="Daily sales",
                export_type="SALES",
                format="excel",
                frequency="DAILY",
                hour=7,
                timezone="UTC",
                recipients=["a@example.com"],
                filters={"date_range": "yesterday"},
            )
            db.session.add(schedule)
            db.session.commit()
            tables = ("export_history", "mail_messages", "audit_logs", "export_history_counts")

            def sizes() -> dict:
                if db.engine.dialect.name != "postgresql":
                    return {}
                return {
                    t: db.session.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar()  # noqa: S608
                    for t in tables
                }

            before = sizes()
            started = time.perf_counter()
            runner = ScheduledExportRunner()
            for n in range(runs):
                schedule.next_run_at = None
                runner.execute_schedule(schedule, "SCHEDULED", occurrence_at=None)
                if n % 50 == 0:
                    db.session.commit()
            seconds = time.perf_counter() - started
            after = sizes()
            stored = sum(p.stat().st_size for p in (root / "exports").rglob("*") if p.is_file())
            outbox = sum(p.stat().st_size for p in (root / "outbox").rglob("*") if p.is_file())
            rows = db.session.execute(text("SELECT count(*) FROM export_history")).scalar()
            scale = 1000 / runs
            return {
                "runs": runs,
                "history_rows": rows,
                "seconds": round(seconds, 1),
                "db_bytes_per_1000_runs": {
                    t: int((after.get(t, 0) - before.get(t, 0)) * scale) for t in after
                },
                "storage_bytes_per_1000_runs": int(stored * scale),
                "eml_bytes_per_1000_runs": int(outbox * scale),
                "_": str(timedelta(seconds=int(seconds))),
            }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default=f"sqlite:///{tempfile.gettempdir()}/sizing.sqlite3")
    parser.add_argument("--rows", default="10000,50000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--child", choices=("fill", "export", "growth"))
    parser.add_argument("--type")
    parser.add_argument("--format")
    parser.add_argument("--n", type=int)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.rows.split(",")]
    if args.child == "fill":
        fill(args.database, sizes)
        print(json.dumps({"filled": sizes}))
        return 0
    if args.child == "export":
        print(json.dumps(one_export(args.database, args.type, args.format, args.n)))
        return 0
    if args.child == "growth":
        print(json.dumps(growth(args.database, args.n, min(sizes))))
        return 0
    report: dict = {"database": args.database.split("@")[-1], "exports": []}
    print(
        json.dumps(
            run_child(
                ["-m", "bench.sizing", "--database", args.database, "--rows", args.rows, "--child", "fill"],
                env=child_env(),
                timeout=3600,
            )
        ),
        flush=True,
    )
    for export_type in TYPES:
        for fmt in FORMATS:
            for n in sizes:
                result = run_child(
                    [
                        "-m",
                        "bench.sizing",
                        "--database",
                        args.database,
                        "--child",
                        "export",
                        "--type",
                        export_type,
                        "--format",
                        fmt,
                        "--n",
                        str(n),
                    ],
                    env=child_env(),
                    timeout=3600,
                )
                result.update({"type": export_type, "format": fmt, "rows": n})
                report["exports"].append(result)
                print(json.dumps(result), flush=True)
    report["growth"] = run_child(
        [
            "-m",
            "bench.sizing",
            "--database",
            args.database,
            "--rows",
            args.rows,
            "--child",
            "growth",
            "--n",
            str(args.runs),
        ],
        env=child_env(),
        timeout=3600,
    )
    print(json.dumps(report["growth"]), flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
