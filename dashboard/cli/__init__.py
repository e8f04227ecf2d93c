"""The command line: every `flask` command the dashboard adds, in this one package.

users.py and user_admin.py (`flask users`), demo.py (`flask demo seed`), runs.py,
automation.py and skip_missed.py (`flask exports`, `flask scheduler run`), pos.py (`flask pos
import`), business.py (`flask business`), destinations.py (`flask destinations
rotate-secrets`), operator.py (`flask doctor`, `flask mail test`). Like
the pages and the API, commands parse their arguments and call the layers below.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from dashboard.cli import (  # noqa: F401  (each module adds its commands to a group)
        automation,
        business,
        demo,
        destinations,
        operator,
        pos,
        runs,
        skip_missed,
        user_admin,
        users,
    )
    from dashboard.cli.common import demo_cli, exports_cli, scheduler_cli, users_cli

    groups = (users_cli, demo_cli, exports_cli, scheduler_cli, pos.pos_cli, business.business_cli)
    for group in (*groups, destinations.destinations_cli):
        app.cli.add_command(group)
    operator.init_app(app)  # flask mail test, flask doctor
