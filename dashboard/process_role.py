"""What this process was started to do: serve requests, or run one `flask` command.

A `flask` command loads the whole app before it runs. Most commands (exports, users, pos, db,
doctor...) never serve a page, so the app they load skips the pages and the API (their modules,
forms and templates are most of the start-up time); `run`, `routes`, `shell` and `limiter` look at
the routes and keep them. gunicorn, the tests and `python -c` are not the `flask` CLI: they get
everything.
"""

from __future__ import annotations

import os
import sys

# `flask` commands that serve, list or inspect the routes.
ROUTE_COMMANDS = frozenset({"run", "routes", "shell", "limiter"})
_OPTIONS_WITH_VALUE = frozenset({"--app", "-A", "--env-file", "-e"})


def flask_command(argv: list[str]) -> str | None:
    """The command name when this process is the `flask` CLI (`flask --app app run` -> "run"),
    "" for `flask` alone, else None."""
    if not argv:
        return None
    program = os.path.basename(argv[0])
    is_flask = program in ("flask", "flask.exe") or argv[0].replace("\\", "/").endswith("flask/__main__.py")
    if not is_flask:
        return None
    args = iter(argv[1:])
    for arg in args:
        if arg in _OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return ""


def serves_routes(argv: list[str] | None = None) -> bool:
    """False for a `flask` command that needs no page or API route (see the module docstring)."""
    command = flask_command(list(sys.argv if argv is None else argv))
    return command is None or command in ROUTE_COMMANDS
