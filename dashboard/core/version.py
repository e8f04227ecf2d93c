"""The release version, read once from pyproject.toml (the one place it is written).

The app is run from its source folder (no wheel is built), so `importlib.metadata` knows nothing of
it: the version is read from the file beside the code, which the Dockerfile copies too.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@functools.cache
def app_version() -> str:
    """`project.version` from pyproject.toml; "unknown" if the file is missing or unreadable."""
    try:
        with open(PYPROJECT, "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def git_revision() -> str:
    """The commit the image or checkout was built from, when the deployment says so (GIT_REVISION)."""
    return os.environ.get("GIT_REVISION", "")
