"""Relay: can one business use the product to mail strangers in bulk? (issue 15, item 3)

A business's owner presses "Run now" twelve times in a row on a schedule with 50 outside addresses
(the issue's finding: 50 addresses x 10 run-nows sent 500 mails from the business's name). Measured
through the dashboard route, with a real SMTP server (aiosmtpd on loopback) counting what it
accepted:

- with MAIL_DAILY_LIMIT_PER_BUSINESS=0 (no limit: what the code did before the quota);
- with the default limit: what goes out at once, what is held, how many notices the owner gets;
  then the outbox is run with the clock moved past each 24 h window until every held mail is out.

    .venv/bin/python -m bench.bench_relay [--quick] [--databases sqlite,postgresql]

Dashboard rate limits are switched off here so that the quota alone is measured.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import ensure_pg_database, pg_url, upgrade_database

RUNS = 12
RECIPIENTS = 50
OUTSIDE = "outside-relay.example.org"
PASSWORD = "bench-relay-password"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Counter:
    def __init__(self) -> None:
        self.outside = 0
        self.notices = 0

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if address.endswith("@" + OUTSIDE):
                self.outside += 1
            else:  # the owner gets nothing else here (not a recipient of the schedule)
                self.notices += 1
        return "250 OK"


def _fresh_database(kind: str, folder: Path) -> str | None:
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'relay.sqlite3'}"
    else:
        url = pg_url("bench_relay")
        problem = ensure_pg_database(url)
        if problem:
            return None
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(url)
    return url


def measure(kind: str, limit: int, runs: int, recipients: int) -> dict:
    from aiosmtpd.controller import Controller

    from config import TestConfig
    from dashboard import create_app
    from dashboard.delivery import process_outbox
    from dashboard.extensions import db
    from dashboard.models import Business, ExportSchedule, Membership, User
    from dashboard.models.types import utcnow

    folder = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    url = _fresh_database(kind, folder)
    if url is None:
        return {"error": "PostgreSQL not reachable"}
    counter, port = _Counter(), _free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = create_app(
            TestConfig,
            SQLALCHEMY_DATABASE_URI=url,
            EXPORT_ROOT=str(folder / "exports"),
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            MAIL_SUPPRESS_SEND=False,
            MAIL_TIMEOUT=10,
            MAIL_DAILY_LIMIT_PER_BUSINESS=limit,
            RATELIMIT_ENABLED=False,
        )
        with app.app_context():
            business = Business(name="Relay Shop", timezone="UTC")
            owner = User(email="owner@relay-shop.example.com", name="Owner")
            owner.set_password(PASSWORD)
            db.session.add_all([business, owner, Membership(user=owner, business=business, role="owner")])
            db.session.flush()
            schedule = ExportSchedule(
                business_id=business.id,
                created_by_id=owner.id,
                name="Urgent: your account will be suspended",
                export_type="SALES",
                format="csv",
                frequency="DAILY",
                hour=8,
                timezone="UTC",
                recipients=[f"target{i:03d}@{OUTSIDE}" for i in range(recipients)],
                filters={"date_range": "yesterday"},
                next_run_at=utcnow() + timedelta(hours=20),
            )
            db.session.add(schedule)
            db.session.commit()
            client = app.test_client()
            client.post("/login", data={"email": owner.email, "password": PASSWORD})
            started = time.perf_counter()
            start = utcnow()
            codes = [client.post(f"/schedules/{schedule.id}/run").status_code for _ in range(runs)]
            burst_seconds = time.perf_counter() - started
            result = {
                "limit": limit,
                "asked": runs * recipients,
                "run_now_statuses": sorted(set(codes)),
                "burst_seconds": round(burst_seconds, 2),
                "delivered_at_once": counter.outside,
                "notices_at_once": counter.notices,
            }
            windows = []
            now = start
            for _ in range(10):  # move the clock a window at a time until nothing is held
                if counter.outside >= runs * recipients:
                    break
                now = now + timedelta(hours=24, minutes=2)
                process_outbox(now)
                windows.append(counter.outside)
            result.update(
                delivered_per_window=windows,
                delivered_in_the_end=counter.outside,
                notices_in_the_end=counter.notices,
            )
            db.session.remove()
            db.engine.dispose()
        return result
    finally:
        controller.stop()


def run(databases: list[str], quick: bool) -> dict:
    recipients = 20 if quick else RECIPIENTS
    report: dict = {"runs": RUNS, "recipients": recipients}
    from config import Config

    default_limit = Config.MAIL_DAILY_LIMIT_PER_BUSINESS
    for kind in databases:
        print(f"  relay on {kind}: no limit, then the default limit ({default_limit})", flush=True)
        report[kind] = {
            "before": measure(kind, 0, RUNS, recipients),
            "after": measure(kind, default_limit, RUNS, recipients),
        }
    return report


def rows(report: dict) -> list[dict]:
    out: list[dict] = []
    asked = report["runs"] * report["recipients"]
    for kind in ("sqlite", "postgresql"):
        entry = report.get(kind)
        if not entry:
            continue
        before, after = entry["before"], entry["after"]
        if before.get("error") or after.get("error"):
            out.append(
                {
                    "figure": f"relay ({kind})",
                    "value": None,
                    "error": before.get("error") or after.get("error"),
                }
            )
            continue
        limit = after["limit"]
        out.append(
            {
                "figure": f"relay ({kind}): {report['runs']} run-nows x {report['recipients']} outside addresses, delivered at once",
                "value": after["delivered_at_once"],
                "peer": before["delivered_at_once"],
                "peer_name": "with no limit (the old behaviour)",
                "target": f"<= {limit} (MAIL_DAILY_LIMIT_PER_BUSINESS)",
                "ok": after["delivered_at_once"] <= limit,
            }
        )
        out.append(
            {
                "figure": f"relay ({kind}): owner notices while held, per window",
                "value": after["notices_at_once"],
                "target": "1",
                "ok": after["notices_at_once"] == 1 or (asked <= limit and after["notices_at_once"] == 0),
            }
        )
        out.append(
            {
                "figure": f"relay ({kind}): delivered after each 24 h window (held, not lost)",
                "value": after["delivered_in_the_end"],
                "detail": " -> ".join(
                    str(n) for n in [after["delivered_at_once"], *after["delivered_per_window"]]
                ),
                "target": f"= {asked}",
                "ok": after["delivered_in_the_end"] == asked,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--databases", default="sqlite")
    args = parser.parse_args(argv)
    report = run([d for d in args.databases.split(",") if d], args.quick)
    print(json.dumps(report, indent=2))
    for row in rows(report):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
