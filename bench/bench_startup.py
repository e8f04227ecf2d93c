"""Start-up: how long a `flask` command takes before it does its work.

    .venv/bin/python -m bench.bench_startup [--runs 7]

`flask exports run` of Sales over an empty period (one day in 1990) into a file, against a migrated
SQLite database with one business, in a virtualenv holding requirements.txt alone (what `make
install` and the Docker image hold: the development tools bring packages, such as rich, that a
plug-in of Flask-Limiter would import on every command): all it does beyond starting is one empty query and a header
line, so its wall time is the start-up an operator waits for on every command. Peers in the same
run: `python -c pass` (the interpreter) and `python -c "import flask, sqlalchemy.orm"` (the two
libraries every command needs). The code is compiled first (as the Dockerfile does at build), and
each is run once to warm the file cache, then
`--runs` times; the median wall time is the figure. `python -X importtime` of the command names the
ten imports that cost the most (cumulative), for docs/performance.md.

Target (issue 21): `flask exports run` on an empty period under 0.5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS_DIR, ROOT, child_env

TARGET_SECONDS = 0.5
BUSINESS = "Bench Start-up Café"
EMPTY_PERIOD = '{"start_date": "1990-01-01", "end_date": "1990-01-01"}'


_PYTHON = sys.executable  # replaced by the production virtualenv's in run()


def _flask() -> list[str]:
    return [_PYTHON, "-m", "flask"]


def production_python() -> str:
    """The python of a virtualenv with requirements.txt alone, made once per lock file and kept."""
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()[:12]
    venv = Path(tempfile.gettempdir()) / f"bench-startup-venv-{digest}"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "-r", "requirements.txt"],
            cwd=ROOT,
            check=True,
        )
        (venv / ".installed").touch()
    return str(python)


def _prepare(env: dict[str, str]) -> None:
    """A migrated database with one business (an owner made by `flask users create`)."""
    subprocess.run([*_flask(), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [
            *_flask(),
            "users",
            "create",
            "owner@bench-startup.example.com",
            "--password-stdin",
            "--business",
            BUSINESS,
            "--role",
            "owner",
        ],
        cwd=ROOT,
        env=env,
        input="bench-startup-password\n",
        text=True,
        check=True,
        capture_output=True,
    )


def _timed(command: list[str], env: dict[str, str], runs: int) -> dict:
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)  # warm
    walls, cpus = [], []
    for _ in range(runs):
        before = os.times()
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = os.times()
        cpus.append(
            (after.children_user - before.children_user) + (after.children_system - before.children_system)
        )
    return {
        "median_s": round(statistics.median(walls), 3),
        "min_s": round(min(walls), 3),
        "max_s": round(max(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
    }


def _top_imports(command: list[str], env: dict[str, str], count: int = 10) -> list[dict]:
    completed = subprocess.run(
        [_PYTHON, "-X", "importtime", *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True
    )
    found = []
    for line in completed.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(3)) <= 3:  # top-level and one level down
            found.append({"module": match.group(4), "cumulative_ms": round(int(match.group(2)) / 1000, 1)})
    return sorted(found, key=lambda item: -item["cumulative_ms"])[:count]


def run(runs: int = 7) -> dict:
    global _PYTHON
    try:
        _PYTHON = production_python()
    except subprocess.CalledProcessError as exc:
        return {"error": f"installing requirements.txt failed ({exc})"}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        env = child_env(
            FLASK_APP="app",
            DATABASE_URL=f"sqlite:///{Path(folder) / 'startup.sqlite3'}",
            INSTANCE_PATH=str(Path(folder) / "instance"),
            LOG_LEVEL="WARNING",
        )
        env.pop("TEST_DATABASE_URL", None)
        # As the image runs it (Dockerfile: compileall at build): the code's bytecode is there.
        # A shell with PYTHONDONTWRITEBYTECODE set would otherwise time compiling every module.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [_PYTHON, "-m", "compileall", "-q", "app.py", "config.py", "dashboard"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        try:
            _prepare(env)
        except subprocess.CalledProcessError as exc:
            return {"error": f"preparing failed: {(exc.stderr or b'')[-300:]!r}"}
        command = [
            *_flask(),
            "exports",
            "run",
            "--business",
            BUSINESS,
            "--type",
            "SALES",
            "--format",
            "csv",
            "--filters",
            EMPTY_PERIOD,
            "--out",
            str(Path(folder) / "empty.csv"),
        ]
        report = {
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": _timed([_PYTHON, "-c", "pass"], env, runs),
            "flask_sqlalchemy": _timed([_PYTHON, "-c", "import flask, sqlalchemy.orm"], env, runs),
            "exports_run": _timed(command, env, runs),
            "top_imports": _top_imports(command, env),
        }
    return report


def rows(report: dict) -> list[dict]:
    if "error" in report:
        return [{"figure": "start-up: flask exports run", "value": None, "error": report["error"]}]
    figure, peer = report["exports_run"], report["flask_sqlalchemy"]
    return [
        {
            "figure": "start-up: `flask exports run`, empty period (s, median wall)",
            "value": figure["median_s"],
            "detail": f"min {figure['min_s']}, CPU {figure['cpu_median_s']} s; python alone "
            f"{report['python']['median_s']} s",
            "peer": peer["median_s"],
            "peer_name": "import flask+sqlalchemy.orm",
            "ratio": round(figure["median_s"] / peer["median_s"], 2) if peer["median_s"] else None,
            "target": f"< {TARGET_SECONDS:g} s",
            "ok": figure["median_s"] < TARGET_SECONDS,
        }
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "startup.json")
    args = parser.parse_args(argv)
    report = run(args.runs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    for row in rows(report):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
