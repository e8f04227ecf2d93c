"""The in-process scheduler. The runner work fills in the jobs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    return None
