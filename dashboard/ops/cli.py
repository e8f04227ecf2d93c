"""The operator's command groups, registered from dashboard/cli.py in one line.

Commands added to the existing groups (`flask users list | set-password | deactivate | activate`,
`flask exports skip-missed`) live in their own modules here; `flask pos` and `flask business` are
new groups.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from dashboard.ops import cli_business, cli_pos, cli_runs, cli_skip, cli_users  # noqa: F401  (commands)

    app.cli.add_command(cli_pos.pos_cli)
    app.cli.add_command(cli_business.business_cli)
    from dashboard.ops.cli_destinations import destinations_cli

    app.cli.add_command(destinations_cli)  # issue 19
