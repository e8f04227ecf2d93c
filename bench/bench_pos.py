"""`make bench` part `pos`: `flask pos import` of 100,000 generated sales (with ~2.5 lines each),
on SQLite and PostgreSQL, against the one-minute target; then the same file again (idempotent:
nothing added) and a SALES export reading the imported rows back.

    .venv/bin/python -m bench.run --only pos            # alone
    .venv/bin/python -m bench.bench_pos --write DIR --sales 100000   # just the CSV files

Each database runs in a child process of its own (peak memory is the child's).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import child_env, run_child

TARGET_SECONDS = 60.0
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"
BUSINESS = "Bench POS Shop"


def write_pos_csvs(folder: Path, sales: int, seed: int = 7, bad_every: int = 0) -> dict[str, Path]:
    """products.csv, customers.csv, sales.csv (one row per line), audit.csv in `folder`.

    `bad_every` > 0 makes every n-th sale invalid (an unknown payment method) for the refusal report."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.csv" for name in ("products", "customers", "sales", "audit")}
    prices = []
    with open(paths["products"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "category", "quantity_on_hand", "unit_cost", "retail_price"])
        for n in range(200):
            cost = rng.randrange(50, 5000)
            price = int(cost * rng.uniform(1.3, 2.5))
            prices.append(price)
            writer.writerow(
                [
                    f"SKU-{n:04d}",
                    f"Product {n}",
                    f"Category {n % 12}",
                    rng.randrange(0, 400),
                    f"{cost / 100:.2f}",
                    f"{price / 100:.2f}",
                ]
            )
    customers = max(50, sales // 20)
    with open(paths["customers"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "email", "phone", "created_at", "visits", "total_spent"])
        for n in range(customers):
            writer.writerow(
                [
                    f"C{n}",
                    f"Customer {n}",
                    f"customer{n}@example.com",
                    f"+1 555 {n:07d}",
                    "2025-01-01T09:00:00Z",
                    rng.randrange(0, 50),
                    f"{rng.randrange(0, 100000) / 100:.2f}",
                ]
            )
    start = datetime(2025, 11, 1, tzinfo=UTC)
    span = 396 * 24 * 3600
    with open(paths["sales"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "receipt",
                "created_at",
                "payment_method",
                "status",
                "customer_id",
                "discount",
                "tax",
                "subtotal",
                "total",
                "sku",
                "quantity",
                "unit_price",
                "line_total",
            ]
        )
        for n in range(sales):
            created = (start + timedelta(seconds=span * n // max(sales, 1))).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines = []
            for _ in range(rng.choice((1, 2, 2, 3, 4))):
                p = rng.randrange(len(prices))
                qty = rng.choice((1, 1, 2, 3))
                lines.append((f"SKU-{p:04d}", qty, prices[p], prices[p] * qty))
            subtotal = sum(line[3] for line in lines)
            discount = subtotal // 10 if rng.random() < 0.1 else 0
            tax = (subtotal - discount) * 8 // 100
            method = "card" if not bad_every or n % bad_every else "bitcoin"
            customer = f"C{rng.randrange(customers)}" if rng.random() < 0.6 else ""
            for sku, qty, price, total in lines:
                writer.writerow(
                    [
                        f"R{n:09d}",
                        created,
                        method,
                        "completed",
                        customer,
                        f"{discount / 100:.2f}",
                        f"{tax / 100:.2f}",
                        f"{subtotal / 100:.2f}",
                        f"{(subtotal - discount + tax) / 100:.2f}",
                        sku,
                        qty,
                        f"{price / 100:.2f}",
                        f"{total / 100:.2f}",
                    ]
                )
    with open(paths["audit"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "created_at", "action", "entity", "entity_id", "details"])
        for n in range(max(10, sales // 10)):
            created = (start + timedelta(seconds=span * n // max(sales // 10, 1))).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            writer.writerow([f"A{n}", created, "sale.created", "sale", f"R{n:09d}", "till 1"])
    return paths


def child(database_url: str, sales: int) -> dict:
    """In a fresh process: a fresh schema, the four imports timed, sales again, an export back."""
    from config import Config
    from dashboard import create_app
    from dashboard.exports.service import generate_export
    from dashboard.extensions import db
    from dashboard.models import Business
    from dashboard.ops.pos_import import import_file

    class Settings(Config):
        SQLALCHEMY_DATABASE_URI = database_url
        SCHEDULER_ENABLED = False
        LOG_LEVEL = "WARNING"

    with tempfile.TemporaryDirectory(prefix="bench-pos-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = write_pos_csvs(folder, sales, bad_every=1000)
        generate_seconds = time.perf_counter() - started
        app = create_app(Settings, EXPORT_ROOT=str(folder / "exports"))
        with app.app_context():
            db.drop_all()
            db.create_all()
            business = Business(name=BUSINESS, timezone="UTC", currency="USD")
            db.session.add(business)
            db.session.commit()
            figures: dict = {"generate_seconds": round(generate_seconds, 2)}
            for kind in ("products", "customers", "sales", "audit"):
                report = import_file(business, kind, paths[kind])
                figures[kind] = {
                    "rows": report.rows,
                    "inserted": report.inserted,
                    "lines": report.lines,
                    "refused": len(report.refused),
                    "seconds": round(report.seconds, 2),
                }
            again = import_file(business, "sales", paths["sales"])
            figures["sales_again"] = {
                "inserted": again.inserted,
                "updated": again.updated,
                "unchanged": again.unchanged,
                "seconds": round(again.seconds, 2),
            }
            started = time.perf_counter()
            export = generate_export(
                business,
                "SALES",
                "csv",
                {"start_date": "2025-11-01", "end_date": "2026-12-31"},
                out_dir=folder,
            )
            figures["export_back"] = {
                "records": export.record_count,
                "seconds": round(time.perf_counter() - started, 2),
            }
            db.session.remove()  # the business row read above: a transaction DROP would wait for
            db.drop_all()
    return figures


def _url(database: str) -> str:
    if database == "sqlite":
        return f"sqlite:///{tempfile.gettempdir()}/bench_pos.sqlite3"
    import psycopg

    with psycopg.connect(f"{PG_BASE.replace('+psycopg', '')}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench_pos'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE bench_pos")
    return f"{PG_BASE}/bench_pos"


def run(databases: list[str], quick: bool) -> dict:
    sales = 10_000 if quick else 100_000
    report: dict = {"sales": sales}
    for database in databases:
        if database == "sqlite":
            Path(tempfile.gettempdir(), "bench_pos.sqlite3").unlink(missing_ok=True)
        try:
            url = _url(database)
        except Exception as exc:  # no PostgreSQL here: say so, measure the rest
            report[database] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        print(f"  pos import: {sales:,} sales on {database}", flush=True)
        report[database] = run_child(
            ["-m", "bench.bench_pos", "--child", url, "--sales", str(sales)], env=child_env(), timeout=1800
        )
    return report


def rows(report: dict) -> list[dict]:
    out = []
    sales = report.get("sales", 0)
    for database, figures in report.items():
        if not isinstance(figures, dict):
            continue
        figure = f"pos import {sales:,} sales ({database})"
        if figures.get("error"):
            out.append({"figure": figure, "error": str(figures["error"])})
            continue
        seconds = figures["sales"]["seconds"]
        out.append(
            {
                "figure": figure,
                "value": seconds,
                "detail": f"s; {figures['sales']['lines']:,} lines, {figures['sales']['refused']:,} refused, "
                f"peak {figures.get('peak_mb')} MB",
                "target": f"< {TARGET_SECONDS:.0f} s",
                "ok": seconds < TARGET_SECONDS and sales >= 100_000 or (sales < 100_000 and seconds < 6),
            }
        )
        again = figures["sales_again"]
        out.append(
            {
                "figure": f"pos import again ({database})",
                "value": again["seconds"],
                "detail": f"s; {again['inserted']} added, {again['updated']} updated",
                "target": "0 added, 0 updated",
                "ok": again["inserted"] == 0 and again["updated"] == 0,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", metavar="DATABASE_URL")
    parser.add_argument("--write", metavar="DIR")
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--bad-every", type=int, default=0)
    args = parser.parse_args(argv)
    if args.write:
        paths = write_pos_csvs(Path(args.write), args.sales, bad_every=args.bad_every)
        print(json.dumps({k: str(v) for k, v in paths.items()}))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.sales)))
        return 0
    report = run(["sqlite", "postgresql"], quick=False)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
