"""The locked tree: every package in requirements*.txt pinned with hashes, the direct pins of the
.in files kept, each install hash-checked (Makefile), and the sets where they belong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s\\]+)", re.M)


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: str) -> dict[str, str]:
    text = (ROOT / path).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    pins = {}
    for block in blocks:
        match = PIN.match(block)
        if match:
            assert "--hash=sha256:" in block, f"{path}: {match[1]} has no hash"
            pins[normal(match[1])] = match[2]
    return pins


def direct(path: str) -> dict[str, str]:
    return {normal(n): v for n, v in PIN.findall((ROOT / path).read_text())}


@pytest.mark.parametrize(
    "lock, sources",
    [
        ("requirements.txt", ["requirements.in"]),
        ("requirements-dev.txt", ["requirements.in", "requirements-dev.in"]),
        ("requirements-bench.txt", ["requirements.in", "requirements-dev.in", "requirements-bench.in"]),
    ],
)
def test_every_lock_pins_its_direct_dependencies_with_hashes(lock, sources):
    pins = locked(lock)
    assert len(pins) > 40
    for source in sources:
        for name, version in direct(source).items():
            assert pins.get(name) == version, f"{lock}: {name} is {pins.get(name)}, {source} says {version}"


def test_the_sets_agree_and_hold_what_they_should():
    app, dev, bench = (
        locked("requirements.txt"),
        locked("requirements-dev.txt"),
        locked("requirements-bench.txt"),
    )
    assert {n: dev[n] for n in app} == app, "the dev set must install the application's exact versions"
    assert {n: bench[n] for n in dev} == dev
    assert "pandas" not in app and "pandas" not in dev and "pandas" in bench
    assert "pypdf" not in direct("requirements.in"), "never imported: it comes with xhtml2pdf"
    for name in ("reportlab", "python-dotenv"):
        assert name in direct("requirements.in")
    assert "pip-tools" in direct("requirements-dev.in")


def test_make_installs_only_hash_checked_locks():
    makefile = (ROOT / "Makefile").read_text()
    installs = re.findall(r"^\t\$\(PIP_INSTALL\) (.*)$", makefile, re.M)
    assert installs == ["-r requirements.txt", "-r requirements-dev.txt", "-r requirements-bench.txt"]
    assert "PIP_INSTALL := $(BIN)/pip install --quiet --require-hashes" in makefile
    assert not re.search(r"\bpip install\b(?!.*--require-hashes)", makefile.replace("\\\n", " "))
    recipes = "\n".join(line for line in makefile.splitlines() if line.startswith("\t"))
    assert not re.search(r"\b(npm|npx|node)\b", recipes), "no make target may need Node"
