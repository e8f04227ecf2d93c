"""`.flaskenv` (committed), `.env` (read when present, git-ignored) and `.env.example`, which must
list exactly the settings config.py reads, each with its default and one line of meaning."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import config

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
SETTING = re.compile(r"^#\s?([A-Z][A-Z0-9_]*)=(.*)$")


def names_config_reads() -> set[str]:
    """Every environment variable config.py reads: os.environ.get/[...], _int, _bool."""
    names = set()
    tree = ast.parse((ROOT / "config.py").read_text())
    # config.py's own readers (_int, _bool, _list, ...): module-level functions named _*.
    readers = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("_")}
    readers |= {"os.environ.get", "os.getenv"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            if ast.unparse(node.func) in readers:
                names.add(node.args[0].value)
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            if isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
    return names


def example_settings() -> dict[str, tuple[str, str]]:
    """NAME -> (default, meaning) from .env.example."""
    lines = EXAMPLE.read_text().splitlines()
    found = {}
    for index, line in enumerate(lines):
        match = SETTING.match(line)
        if match:
            meaning = lines[index - 1]
            assert meaning.startswith("# ") and not SETTING.match(meaning), f"{match[1]}: no line of meaning"
            assert match[1] not in found, f"{match[1]} listed twice"
            found[match[1]] = (match[2], meaning[2:])
    return found


def test_env_example_lists_exactly_what_config_reads():
    listed, read = set(example_settings()), names_config_reads()
    assert read - listed == set(), f"read by config.py but missing from .env.example: {sorted(read - listed)}"
    assert listed - read == set(), f"in .env.example but never read by config.py: {sorted(listed - read)}"


def test_env_example_defaults_are_configs_defaults():
    """Where a setting is a Config attribute of the same name, the example's default is its value."""
    checked = 0
    for name, (default, _) in example_settings().items():
        if name in os.environ or not hasattr(config.Config, name):
            continue
        value = getattr(config.Config, name)
        if isinstance(value, bool):
            expected = "1" if value else "0"
        elif isinstance(value, int | float):
            expected = f"{value:g}" if isinstance(value, float) else str(value)
            default = f"{float(default):g}" if isinstance(value, float) else default
        elif value is None:
            expected = ""
        elif isinstance(value, list):
            expected = ",".join(value)
        else:
            expected = str(value)
        if name.endswith(("_ROOT", "_DIR")) and expected.startswith("/"):
            continue  # absolute paths under the checkout; the example says them relatively
        assert default == expected, f"{name}: .env.example says {default!r}, config.py {expected!r}"
        checked += 1
    assert checked >= 40


def test_flaskenv_is_committed_and_env_is_ignored():
    flaskenv = (ROOT / ".flaskenv").read_text()
    assert "FLASK_APP=app" in flaskenv.splitlines()
    tracked = subprocess.run(
        ["git", "ls-files", ".flaskenv", ".env.example"], cwd=ROOT, capture_output=True, text=True
    )
    assert tracked.stdout.split() == [".env.example", ".flaskenv"]
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be git-ignored (it holds secrets)"
    # The tests themselves never read a developer's .env.
    assert os.environ.get("FLASK_SKIP_DOTENV") == "1"


PROBE = "import config; print(config.Config.MAIL_SERVER, config.Config.MAIL_PORT, config.Config.BASE_URL)"


@pytest.mark.parametrize("skip", ["", "1"])
def test_dotenv_is_read_before_the_settings_and_the_environment_wins(tmp_path, skip):
    # config.py reads the .env beside it: a copy of it in a folder of its own, with its own .env
    # (a developer's .env in the checkout is left alone).
    shutil.copy(ROOT / "config.py", tmp_path / "config.py")
    (tmp_path / ".env").write_text(
        "MAIL_SERVER=smtp.example.com\nMAIL_PORT=587\nBASE_URL=https://x.example.com/\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "BASE_URL"))}
    env.update(FLASK_SKIP_DOTENV=skip, MAIL_PORT="2525", PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    expected = "smtp.example.com 2525 https://x.example.com" if not skip else " 2525 "
    assert result.stdout.rstrip("\n") == expected
