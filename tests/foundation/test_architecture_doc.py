"""docs/architecture.md draws the tree of dashboard/, one line per module: the drawing must name
every module that exists and nothing that does not, so the page stays true as the code moves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+/?)(?: {2,}\S.*)?$")


def drawn_paths(text: str) -> set[str]:
    """The file paths the first drawn layout (the first ``` block) names, rebuilt from its
    indentation: a name ending in "/" opens a folder for the lines indented under it."""
    block = text.split("```", 2)[1]
    paths: set[str] = set()
    folders: list[tuple[int, str]] = []
    for line in block.splitlines()[1:]:
        match = ENTRY.match(line.rstrip())
        if not match:
            continue  # a description carried on to the next line
        indent, name = len(match["indent"]), match["name"]
        while folders and folders[-1][0] >= indent:
            folders.pop()
        path = "".join(folder for _, folder in folders) + name
        if name.endswith("/"):
            folders.append((indent, name))
        else:
            paths.add(path)
    return paths


def test_the_drawn_layout_names_every_module_and_only_those():
    actual = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dashboard").rglob("*.py")}
    drawn = {p for p in drawn_paths(DOC.read_text(encoding="utf-8")) if p.startswith("dashboard/")}
    assert not actual - drawn, f"modules missing from docs/architecture.md: {sorted(actual - drawn)}"
    assert not drawn - actual, (
        f"docs/architecture.md names modules that do not exist: {sorted(drawn - actual)}"
    )


def test_the_drawing_is_read_as_a_tree():
    text = "```\napp.py  entry\ndashboard/\n  core/  the core\n    errors.py  errors\n  tenancy.py  x\n```\n"
    assert drawn_paths(text) == {"app.py", "dashboard/core/errors.py", "dashboard/tenancy.py"}
