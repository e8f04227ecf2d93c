"""`make bench`: every figure the product promises, each against its floor or peer measured in the
same run, printed as one table and written to bench/results/latest.json.

    .venv/bin/python -m bench.run [--quick] [--only exports,scheduler,api,relay,fair,pos,startup] [--databases sqlite,postgresql]

- exports (bench/bench_exports.py, the exporters' own script): CSV and Excel through
  generate_export() against the DB-API cursor + csv.writer / openpyxl write-only floor and against
  pandas, at 100,000 and 1,000,000 sales; peak memory growth; PDF rows/s at 10,000 rows.
- scheduler (bench/bench_scheduler.py): a poll of 100,000 schedules with nothing due, and 1,000
  claims, on SQLite and PostgreSQL, with the poll query's plan.
- pos (bench/bench_pos.py): `flask pos import` of 100,000 generated sales with their lines, on SQLite
  and PostgreSQL, against one minute; the same file again (nothing added); an export reading it back.
- api (bench/bench_api.py): statistics and the history list/page on 1,100,000 runs under 20
  concurrent clients against gunicorn, with /healthz as the peer.
- relay (bench/bench_relay.py): twelve run-nows of a schedule with 50 outside addresses, mail
  delivered at once with no limit (the old behaviour) and with MAIL_DAILY_LIMIT_PER_BUSINESS, then
  after each 24 h window (the clock moved); the owner's notices.
- fair (bench/bench_fair.py): noisy neighbour. Business B queues 60 full-period PDF exports
  through the API; business A's small CSV export, request to COMPLETED, against A's idle time in
  the same run (SQLite with one gunicorn process, PostgreSQL with three instances). Runnable alone:
  `--only fair` (a few minutes).
- startup (bench/bench_startup.py): `flask exports run` over an empty period, wall time, against
  the interpreter and `import flask, sqlalchemy.orm`; the costliest imports by `-X importtime`.

`--quick` runs every part at smaller sizes (minutes, not the full ~20). PostgreSQL comes from
BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432); the benches create their own
databases (bench_api, bench_sched; never `test`). Seeded databases are kept for the next run.
The machine's load average is recorded with the figures: other work on the same cores slows every
latency here, the peers' included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench import bench_api, bench_fair, bench_pos, bench_relay, bench_scheduler, bench_startup
from bench.common import RESULTS_DIR, ROOT, child_env

PARTS = ("exports", "scheduler", "api", "relay", "fair", "pos", "startup")
EXPORT_TARGETS = {
    "csv": 1.5,
    "excel": 1.3,
    "memory_growth_mb": 60.0,
    "pdf_rows_per_s": 1000.0,
    "pdf_peak_mb": 200.0,
}


# ---- exports: the exporters' script, run as it is ------------------------------------------------


def run_exports(quick: bool) -> dict:
    sizes, pdf_rows = ("10000,100000", "1000,2000") if quick else ("100000,1000000", "500,2000,10000")
    output = RESULTS_DIR / "exports.json"
    output.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "bench.bench_exports",
        "--sizes",
        sizes,
        "--pdf-rows",
        pdf_rows,
        "--output",
        str(output),
    ]
    print(f"\n#### exports: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env=child_env(), timeout=3600)
    report = json.loads(output.read_text()) if output.exists() else {}
    report["returncode"] = completed.returncode
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or not a.get("seconds") or not b.get("seconds"):
        return None
    return round(a["seconds"] / b["seconds"], 2)


def export_rows(report: dict) -> list[dict]:
    rows: list[dict] = []
    if not report.get("sizes"):
        return [
            {"figure": "exports", "value": None, "error": f"bench_exports exited {report.get('returncode')}"}
        ]
    labels = {"csv": "CSV", "excel": "Excel"}
    for size, entry in sorted(report["sizes"].items(), key=lambda item: int(item[0])):
        n = int(size)
        for fmt in ("csv", "excel"):
            product, floor, pandas = (entry.get(f"{fmt}_{kind}") for kind in ("product", "floor", "pandas"))
            if not product or "seconds" not in product:
                rows.append(
                    {
                        "figure": f"{labels[fmt]} {n:,} rows",
                        "value": None,
                        "error": str((product or {}).get("error")),
                    }
                )
                continue
            ratio = _ratio(product, floor)
            rows.append(
                {
                    "figure": f"{labels[fmt]} {n:,} rows: product rows/s (vs floor)",
                    "value": product.get("rows_per_s"),
                    "peer": (floor or {}).get("rows_per_s"),
                    "peer_name": "cursor+csv.writer" if fmt == "csv" else "openpyxl write-only",
                    "ratio": ratio,
                    "ratio_note": "time ratio",
                    "target": f"time <= {EXPORT_TARGETS[fmt]:g}x floor",
                    "ok": ratio is not None and ratio <= EXPORT_TARGETS[fmt],
                }
            )
            if pandas and "seconds" in pandas:
                ratio = _ratio(product, pandas)
                rows.append(
                    {
                        "figure": f"{labels[fmt]} {n:,} rows: product rows/s (vs pandas)",
                        "value": product.get("rows_per_s"),
                        "peer": pandas.get("rows_per_s"),
                        "peer_name": "pandas",
                        "ratio": ratio,
                        "ratio_note": "time ratio",
                        "target": "time < 1x pandas",
                        "ok": ratio is not None and ratio < 1,
                    }
                )
        if "csv_identical_to_floor" in entry:
            rows.append(
                {
                    "figure": f"CSV {n:,} rows: file byte-identical to the floor's",
                    "value": "yes" if entry["csv_identical_to_floor"] else "no",
                    "target": "yes",
                    "ok": bool(entry["csv_identical_to_floor"]),
                }
            )
    sizes = sorted(int(s) for s in report["sizes"])
    if len(sizes) >= 2:
        small, large = str(sizes[0]), str(sizes[-1])
        for fmt in ("csv", "excel"):
            a = report["sizes"][small].get(f"{fmt}_product") or {}
            b = report["sizes"][large].get(f"{fmt}_product") or {}
            if "peak_mb" in a and "peak_mb" in b:
                growth = round(b["peak_mb"] - a["peak_mb"], 1)
                rows.append(
                    {
                        "figure": f"{labels[fmt]} peak MB at {int(large):,} rows (growth over {int(small):,})",
                        "value": b["peak_mb"],
                        "peer": a["peak_mb"],
                        "peer_name": f"at {int(small):,}",
                        "ratio": f"+{growth} MB",
                        "target": f"+<= {EXPORT_TARGETS['memory_growth_mb']:g} MB",
                        "ok": growth <= EXPORT_TARGETS["memory_growth_mb"],
                    }
                )
    pdf = report.get("pdf") or {}
    if pdf:
        rows_max = max(pdf, key=int)
        result = pdf[rows_max]
        if "seconds" in result:
            rate = round(result["rows"] / result["seconds"]) if result["seconds"] else None
            rows.append(
                {
                    "figure": f"PDF {int(rows_max):,} rows: rows/s ({result.get('seconds_per_1000_rows')} s per 1,000)",
                    "value": rate,
                    "target": f">= {EXPORT_TARGETS['pdf_rows_per_s']:g} rows/s",
                    "ok": rate is not None and rate >= EXPORT_TARGETS["pdf_rows_per_s"],
                }
            )
            rows.append(
                {
                    "figure": f"PDF {int(rows_max):,} rows: peak MB",
                    "value": result.get("peak_mb"),
                    "target": f"< {EXPORT_TARGETS['pdf_peak_mb']:g} MB",
                    "ok": result.get("peak_mb") is not None
                    and result["peak_mb"] < EXPORT_TARGETS["pdf_peak_mb"],
                }
            )
        else:
            rows.append(
                {"figure": f"PDF {int(rows_max):,} rows", "value": None, "error": str(result.get("error"))}
            )
    return rows


# ---- the table ------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(rows: list[dict]) -> list[str]:
    header = ("figure", "value", "floor/peer", "ratio", "target", "result")
    table = []
    for row in rows:
        if row.get("error"):
            table.append((row["figure"], "-", "-", "-", "-", f"ERROR {row['error'][:60]}"))
            continue
        value = _cell(row.get("value"))
        if row.get("detail"):
            value = f"{value} ({row['detail']})"
        peer = _cell(row.get("peer"))
        if row.get("peer_name") and row.get("peer") is not None:
            peer = f"{peer} {row['peer_name']}"
        ratio = _cell(row.get("ratio"))
        if row.get("ratio") is not None and isinstance(row["ratio"], float | int):
            ratio = f"{ratio}x"
        result = "-" if row.get("ok") is None else ("PASS" if row["ok"] else "MISS")
        table.append((row["figure"], value, peer, ratio, row.get("target", "-"), result))
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in table]
    return out


def environment() -> dict:
    info = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        info["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    parser.add_argument("--databases", default="sqlite,postgresql", help="for the scheduler and api parts")
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    databases = [d for d in args.databases.split(",") if d]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    latest: dict = {"environment": environment(), "quick": args.quick, "parts": {}}
    rows: list[dict] = []
    if "exports" in parts:
        report = run_exports(args.quick)
        latest["parts"]["exports"] = report
        rows += export_rows(report)
    if "scheduler" in parts:
        print("\n#### scheduler", flush=True)
        report = bench_scheduler.run(databases, args.quick)
        latest["parts"]["scheduler"] = report
        rows += bench_scheduler.rows(report)
    if "api" in parts:
        print("\n#### API and pages", flush=True)
        report = bench_api.run(databases, args.quick)
        latest["parts"]["api"] = report
        rows += bench_api.rows(report)
    if "relay" in parts:
        print("\n#### relay (mail quota)", flush=True)
        report = bench_relay.run(databases, args.quick)
        latest["parts"]["relay"] = report
        rows += bench_relay.rows(report)
    if "fair" in parts:
        print("\n#### sharing between businesses (noisy neighbour)", flush=True)
        report = bench_fair.run(databases)
        latest["parts"]["fair"] = report
        rows += bench_fair.rows(report)
    if "pos" in parts:
        print("\n#### POS import", flush=True)
        report = bench_pos.run(databases, args.quick)
        latest["parts"]["pos"] = report
        rows += bench_pos.rows(report)
    if "startup" in parts:
        print("\n#### start-up (flask exports run, empty period)", flush=True)
        report = bench_startup.run()
        latest["parts"]["startup"] = report
        rows += bench_startup.rows(report)
    latest["environment"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    latest["environment"]["seconds"] = round(time.perf_counter() - started, 1)
    latest["rows"] = rows
    table = render(rows)
    latest["table"] = table
    environment_line = (
        f"{latest['environment']['cpus']} CPUs, load average {latest['environment']['load_average_at_start']} "
        f"at start and {latest['environment']['load_average_at_end']} at end; "
        f"{latest['environment']['seconds']:.0f} s; {'quick sizes' if args.quick else 'full sizes'}"
    )
    print("\n" + "=" * 40 + " make bench " + "=" * 40)
    print(environment_line)
    if "api" in parts:
        print(
            f"server: {latest['parts']['api'].get('server')}; {latest['parts']['api'].get('concurrency')} clients"
        )
    print("\n".join(table))
    output = RESULTS_DIR / "latest.json"
    output.write_text(json.dumps(latest, indent=2, default=str))
    misses = sum(1 for row in rows if row.get("ok") is False or row.get("error"))
    print(f"\n{misses} figure(s) missed their target. Wrote {output.relative_to(ROOT)}")
    # Missing a target is a result to read, not a crash: the exit status says whether the bench ran.
    return 0


if __name__ == "__main__":
    sys.exit(main())
