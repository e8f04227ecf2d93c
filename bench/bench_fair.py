"""Noisy neighbour: one business's bulk exports must not slow another business's small one.

    .venv/bin/python -m bench.bench_fair [--databases sqlite,postgresql] [--requests 60]

Per database, against real servers (gunicorn.conf.py, APP_ENV=production, the in-process
scheduler on, EXPORT_WORKERS=2 per process): SQLite with ONE gunicorn process; PostgreSQL with
THREE gunicorn instances (one worker each, on their own ports: three hosts sharing a database).

1. Business A (300 demo sales) asks for a small CSV export (SALES, last 7 days) through the API
   and polls its history record until COMPLETED: its idle time, median of 3.
2. Business B (3,000 demo sales) fires `--requests` one-off PDF exports of its whole period
   (10 concurrent clients, spread over the instances); right after, A asks for its small CSV again:
   request to COMPLETED under load. Target: within 2 s of idle.
3. Every run B had accepted (202) must end COMPLETED; every refusal must be a 429 with a
   Retry-After header.

The databases are rebuilt each time (small: seeding takes seconds). The machine's load average is
recorded with the figures: other work on the same cores slows every run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import RESULTS_DIR, ROOT, child_env, emit, ensure_pg_database, pg_url, run_child

A_NAME, B_NAME = "Bench Fair A", "Bench Fair B"
A_SALES, B_SALES = 300, 3000
TARGET_SECONDS = 2.0
SQLITE_PATH = Path("/tmp/bench_fair.sqlite3")
RUN_TIMEOUT = 600.0


def database_url(kind: str) -> str:
    return f"sqlite:///{SQLITE_PATH}" if kind == "sqlite" else pg_url("bench_fair")


# ---- seeding (a child process) -------------------------------------------------------------------


def _wipe(kind: str, url: str) -> None:
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def child_seed(kind: str, url: str) -> None:
    """A migrated database with the two businesses, their owners and an API token each."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from dashboard import create_app
    from dashboard.auth.tokens import create_token
    from dashboard.demo import seed_business
    from dashboard.extensions import db
    from dashboard.models.pos import Business, Membership, User

    _wipe(kind, url)
    app = create_app(None, SQLALCHEMY_DATABASE_URI=url, SCHEDULER_ENABLED=False)
    tokens = {}
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        for name, sales, slug in ((A_NAME, A_SALES, "bench-fair-a"), (B_NAME, B_SALES, "bench-fair-b")):
            seed_business(name, sales=sales, slug=slug)
            business = db.session.scalar(select(Business).where(Business.name == name))
            owner = User(email=f"owner@{slug}.example.com", name=f"{name} Owner")
            membership = Membership(user=owner, business=business, role="owner")
            db.session.add_all([owner, membership])
            db.session.commit()
            tokens[name] = create_token(membership)
    emit({"tokens": tokens})


# ---- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One gunicorn instance (gunicorn.conf.py) with its scheduler and export workers."""

    def __init__(self, url: str, log_path: Path, work: Path, workers: int = 1):
        self.port = free_port()
        self.log = open(log_path, "w")
        env = child_env(
            APP_ENV="production",
            DATABASE_URL=url,
            SECRET_KEY="bench-fair-" + "x" * 40,
            SCHEDULER_ENABLED="1",
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS="4",
            EXPORT_WORKERS="2",
            INSTANCE_PATH=str(work),
            EXPORT_ROOT=str(work / "exports"),
            MAIL_OUTBOX_DIR=str(work / "outbox"),
            EXPORT_WORK_DIR=str(work / "tmp"),
            GUNICORN_ACCESS_LOG="/dev/null",
        )
        (work / "tmp").mkdir(parents=True, exist_ok=True)
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
                if request(self.port, "GET", "/healthz")[0] == 200:
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
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def request(port: int, method: str, path: str, token: str | None = None, body: dict | None = None):
    import http.client

    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()), payload
    finally:
        connection.close()


EXPORTS = "/api/reports/exports/"
HISTORY = "/api/reports/automation/history/{}/"


def a_export() -> dict:
    return {"export_type": "SALES", "format": "csv", "filters": {"date_range": "last_7_days"}}


def b_export() -> dict:
    today = datetime.now(UTC).date()
    return {
        "export_type": "SALES",
        "format": "pdf",
        "filters": {"start_date": (today - timedelta(days=800)).isoformat(), "end_date": today.isoformat()},
    }


def wait_for(port: int, token: str, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, payload = request(port, "GET", HISTORY.format(run_id), token)
        if status == 200:
            state = json.loads(payload)["status"]
            if state in ("COMPLETED", "EMAILED", "FAILED"):
                return state
        time.sleep(0.05)
    return "TIMEOUT"


def timed_export(port: int, token: str) -> tuple[float, str]:
    """One small export of A: seconds from the request to COMPLETED, and its final status."""
    started = time.perf_counter()
    status, _, payload = request(port, "POST", EXPORTS, token, a_export())
    if status != 202:
        return time.perf_counter() - started, f"HTTP {status}"
    final = wait_for(port, token, json.loads(payload)["id"])
    return time.perf_counter() - started, final


def flood(ports: list[int], token: str, count: int, clients: int = 10) -> list[tuple[int, dict, str | None]]:
    """`count` PDF exports of B from `clients` threads, round robin over the instances."""
    results: list[tuple[int, dict, str | None]] = []
    lock = threading.Lock()
    numbers = iter(range(count))

    def client() -> None:
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            status, headers, payload = request(ports[n % len(ports)], "POST", EXPORTS, token, b_export())
            run_id = json.loads(payload).get("id") if status == 202 else None
            with lock:
                results.append((status, headers, run_id))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def measure(kind: str, requests: int) -> dict:
    url = database_url(kind)
    if kind == "postgresql":
        problem = ensure_pg_database(url)
        if problem:
            return {"error": problem}
    seeded = run_child(["-m", "bench.bench_fair", "--child", "seed", kind, url], timeout=600)
    if "tokens" not in seeded:
        return {"error": f"seeding failed: {seeded.get('error')}", "stderr": seeded.get("stderr")}
    token_a, token_b = seeded["tokens"][A_NAME], seeded["tokens"][B_NAME]
    instances = 1 if kind == "sqlite" else 3
    work = Path(f"/tmp/bench_fair_{kind}_{uuid.uuid4().hex[:8]}")
    servers: list[Server] = []
    report: dict = {"instances": instances, "b_requests": requests, "load_average_at_start": os.getloadavg()}
    try:
        for i in range(instances):
            servers.append(Server(url, RESULTS_DIR / f"gunicorn_fair_{kind}_{i}.log", work / str(i)))
        ports = [s.port for s in servers]
        for port in ports:  # warm every instance: imports, connections, its first export
            timed_export(port, token_a)
        idle = []
        for i in range(3):
            seconds, final = timed_export(ports[i % len(ports)], token_a)
            idle.append(seconds)
            report.setdefault("idle_statuses", []).append(final)
        report["idle_seconds"] = round(statistics.median(idle), 3)
        flood_started = time.perf_counter()
        results = flood(ports, token_b, requests)
        report["flood_seconds"] = round(time.perf_counter() - flood_started, 2)
        loaded, final = timed_export(ports[-1], token_a)
        report["loaded_seconds"] = round(loaded, 3)
        report["loaded_status"] = final
        accepted = [run_id for status, _, run_id in results if status == 202]
        refused = [(status, headers) for status, headers, _ in results if status != 202]
        report["b_accepted"] = len(accepted)
        report["b_refused"] = len(refused)
        report["b_refusals_all_429_with_retry_after"] = all(
            status == 429 and headers.get("Retry-After", "").isdigit() for status, headers in refused
        )
        report["b_refusal_statuses"] = sorted({status for status, _ in refused})
        drain_started = time.perf_counter()
        finals = [wait_for(ports[0], token_b, run_id) for run_id in accepted]
        report["b_drain_seconds"] = round(time.perf_counter() - drain_started, 1)
        report["b_all_accepted_completed"] = all(s == "COMPLETED" for s in finals)
        report["b_final_statuses"] = {s: finals.count(s) for s in set(finals)}
    finally:
        for server in servers:
            server.stop()
    report["load_average_at_end"] = os.getloadavg()
    return report


def run(databases: list[str], requests: int = 60) -> dict:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    report = {}
    for kind in databases:
        print(f"  noisy neighbour on {kind} ...", flush=True)
        try:
            report[kind] = measure(kind, requests)
        except Exception as exc:  # a figure that could not be measured is reported, not raised
            report[kind] = {"error": f"{exc.__class__.__name__}: {exc}"}
        print(f"    {json.dumps(report[kind], default=str)}", flush=True)
    return report


def rows(report: dict) -> list[dict]:
    out: list[dict] = []
    for kind, result in report.items():
        label = f"noisy neighbour ({kind}, {result.get('instances', '?')} gunicorn)"
        if result.get("error"):
            out.append({"figure": label, "value": None, "error": str(result["error"])})
            continue
        delta = round(result["loaded_seconds"] - result["idle_seconds"], 2)
        out.append(
            {
                "figure": f"{label}: A's small CSV under B's flood, s",
                "value": result["loaded_seconds"],
                "peer": result["idle_seconds"],
                "peer_name": "idle",
                "ratio": f"{delta:+} s",
                "target": f"<= idle + {TARGET_SECONDS:g} s",
                "ok": result["loaded_status"] == "COMPLETED" and delta <= TARGET_SECONDS,
            }
        )
        out.append(
            {
                "figure": f"{label}: B accepted / refused (429)",
                "value": f"{result['b_accepted']} / {result['b_refused']}",
                "target": "accepted all COMPLETED; refusals 429 + Retry-After",
                "ok": result["b_all_accepted_completed"] and result["b_refusals_all_429_with_retry_after"],
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args(argv)
    report = run([d for d in args.databases.split(",") if d], args.requests)
    from bench.run import render

    print("\n".join(render(rows(report))))
    (RESULTS_DIR / "fair.json").write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        if sys.argv[2] == "seed":
            child_seed(sys.argv[3], sys.argv[4])
        sys.exit(0)
    sys.exit(main())
