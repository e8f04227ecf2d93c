"""Benchmark helpers: run one measurement in a fresh process and read its peak memory.

Each measurement runs alone in a child process so that its peak resident memory (the child's
`ru_maxrss`, read with os.wait4) belongs to it alone, and no cache of an earlier run helps it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SCHEDULER_ENABLED": "0", "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"})
    env.update(extra)
    return env


def run_child(args: list[str], env: dict[str, str] | None = None, timeout: float | None = None) -> dict:
    """Run `python args...`; its last stdout line is JSON. Adds wall seconds and peak RSS in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env or child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = None if timeout is None else started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            return {"error": f"timed out after {timeout:.0f}s", "timed_out": True}
        time.sleep(0.05)
    wall = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        return {"error": (stderr or stdout).strip().splitlines()[-1:] or ["failed"], "stderr": stderr[-2000:]}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    result["process_seconds"] = round(wall, 3)
    result["peak_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return result


def emit(result: dict) -> None:
    """A child's answer: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


# ---- shared by bench_scheduler and bench_api ---------------------------------------------------

PG_BASE_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


def pg_url(dbname: str) -> str:
    """A PostgreSQL URL for one of the benchmarks' own databases (never `test`: CI owns it)."""
    return f"{PG_BASE_URL.rstrip('/')}/{dbname}"


def ensure_pg_database(url: str) -> str | None:
    """Create the database named in `url` when missing; None when ready, else why not."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        with psycopg.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        ) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{parsed.database}"')
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {parsed.host}:{parsed.port or 5432} ({exc.__class__.__name__})"
    return None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def upgrade_database(url: str) -> None:
    """Apply the project's migrations (the same schema and indexes as production) to `url`."""
    from flask_migrate import upgrade

    from dashboard import create_app

    app = create_app(None, SQLALCHEMY_DATABASE_URI=url, SCHEDULER_ENABLED=False)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
