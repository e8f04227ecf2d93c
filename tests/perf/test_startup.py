"""`flask` commands import only what they use (issue 21): a command that serves no page loads no
page or API module, no migration tool and no Excel/PDF library; `flask routes`, `flask db` and the
writers still work when asked for."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.exports.registry import WRITERS, get_writer
from dashboard.process_role import flask_command, serves_routes

pytestmark = pytest.mark.nodb  # its own SQLite files, never TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")
# Loaded only by what needs them: pages and API, migrations, the Excel and PDF writers, the
# PostgreSQL dialect on a SQLite database.
NOT_AT_START = (
    "dashboard.web.schedules",
    "dashboard.api.openapi",
    "alembic",
    "flask_migrate",
    "openpyxl",
    "reportlab",
    "xhtml2pdf",
    "sqlalchemy.dialects.postgresql",
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "FLASK_APP": "app",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'startup.sqlite3'}",
        "INSTANCE_PATH": str(tmp_path),
        "SCHEDULER_ENABLED": "0",
    }
    for name in ("APP_ENV", "TEST_DATABASE_URL"):
        env.pop(name, None)
    return env


def _loaded_by(argv: list[str], env: dict[str, str]) -> list[str]:
    """The NOT_AT_START modules loaded once app.py has run as `argv` would run it."""
    script = (
        "import sys, json\n"
        f"sys.argv = {argv!r}\n"
        "import app\n"
        f"print(json.dumps([m for m in {NOT_AT_START!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_command_that_serves_nothing_loads_no_page_migration_or_writer_module(tmp_path):
    assert _loaded_by(["flask", "exports", "run"], _env(tmp_path)) == []
    assert _loaded_by(["/usr/bin/flask", "--app", "app", "users", "list"], _env(tmp_path)) == []


def test_servers_and_route_commands_get_the_pages_and_the_api(tmp_path):
    for argv in (["gunicorn"], ["flask", "run"], ["flask", "--app", "app", "routes"], ["flask", "shell"]):
        assert "dashboard.web.schedules" in _loaded_by(argv, _env(tmp_path)), argv


@pytest.mark.parametrize(
    ("argv", "command", "routes"),
    [
        (["gunicorn"], None, True),
        (["/x/pytest"], None, True),
        (["flask"], "", False),
        (["flask", "--app", "app", "run"], "run", True),
        (["flask", "-A", "app", "routes"], "routes", True),
        (["flask", "--app=app", "exports", "run"], "exports", False),
        (["/venv/bin/flask", "-e", "x.env", "db", "upgrade"], "db", False),
        (["/venv/lib/python3.11/site-packages/flask/__main__.py", "limiter", "limits"], "limiter", True),
    ],
)
def test_what_the_process_was_started_for(argv, command, routes):
    assert flask_command(argv) == command
    assert serves_routes(argv) is routes


def test_flask_db_and_flask_routes_still_work_from_the_command_line(tmp_path):
    env = _env(tmp_path)
    upgrade = subprocess.run([FLASK, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    current = subprocess.run([FLASK, "db", "current"], cwd=ROOT, env=env, capture_output=True, text=True)
    heads = subprocess.run([FLASK, "db", "heads"], cwd=ROOT, env=env, capture_output=True, text=True)
    head = heads.stdout.split()[0]
    assert head in current.stdout and "(head)" in current.stdout
    assert "plugin" not in upgrade.stderr  # Alembic's plugin announcements stay quiet
    routes = subprocess.run([FLASK, "routes"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert routes.returncode == 0, routes.stderr[-2000:]
    assert "/history" in routes.stdout and "/api/reports/automation/history/" in routes.stdout


def test_each_writer_is_found_when_first_asked_for():
    for fmt in WRITERS:
        writer = get_writer(fmt)
        assert writer.format == fmt and writer.extension


def test_a_command_leaves_its_sqlite_file_whole(tmp_path):
    """app.py freezes the start-up's objects (the collector's last pass was 80 ms of every command),
    so the database connections are closed at exit by database.close_at_exit: a copy of the file
    alone, made right after a command, holds what the command wrote."""
    env = _env(tmp_path)
    for argv, given in (
        (["db", "upgrade"], None),
        (
            [
                "users",
                "create",
                "whole@example.com",
                "--password-stdin",
                "--business",
                "Whole Café",
                "--role",
                "owner",
            ],
            "pw-whole-1\n",
        ),
    ):
        done = subprocess.run([FLASK, *argv], cwd=ROOT, env=env, input=given, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    wal = tmp_path / "startup.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    shutil.copy(tmp_path / "startup.sqlite3", tmp_path / "copy.sqlite3")
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    try:
        assert copy.execute("SELECT email FROM users").fetchall() == [("whole@example.com",)]
    finally:
        copy.close()


def test_the_models_annotations_are_not_strings_for_sqlalchemy_to_evaluate():
    """SQLAlchemy eval()s each string annotation of a model when its class is made; written as
    objects (no `from __future__ import annotations` in the models), about 550 of them no longer
    cost every command its start-up time."""
    import dashboard.models  # noqa: F401 (every model declared)
    from dashboard.extensions import db

    annotations = [
        (f"{mapper.class_.__name__}.{name}", annotation)
        for mapper in db.Model.registry.mappers
        for name, annotation in vars(mapper.class_).get("__annotations__", {}).items()
    ]
    assert len(annotations) > 200
    assert [name for name, annotation in annotations if isinstance(annotation, str)] == []


def _collector_while_starting(env: dict[str, str], before: str) -> dict:
    """How many collector passes ran while app.py was starting the app (from its first import of
    `dashboard` until it froze what it made) as `flask exports run`, whether the collector is on
    afterwards, and how much was frozen."""
    script = (
        "import gc, json, sys\n"
        "sys.argv = ['flask', 'exports', 'run']\n"
        f"{before}\n"
        "passes = []\n"
        "def seen(phase, info):\n"
        "    if phase == 'start' and 'dashboard' in sys.modules and not gc.get_freeze_count():\n"
        "        passes.append(info['generation'])\n"
        "gc.callbacks.append(seen)\n"
        "import app\n"
        "print(json.dumps({'passes': len(passes), 'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_collector_is_held_back_while_starting_and_on_again_after(tmp_path):
    """Its passes over the objects being made were 28 ms of every command's start-up."""
    seen = _collector_while_starting(_env(tmp_path), before="")
    assert seen["passes"] == 0
    assert seen["enabled"] is True
    assert seen["frozen"] > 50_000  # modules, models and the app: never walked again


def test_a_collector_turned_off_before_starting_stays_off(tmp_path):
    seen = _collector_while_starting(_env(tmp_path), before="gc.disable()")
    assert seen["passes"] == 0 and seen["enabled"] is False
