"""Flask-Migrate, imported (with Alembic under it) only when a migration runs.

Every `flask` command loads the app, and importing Flask-Migrate imports Alembic: about a tenth of
a second that `flask exports run` or `flask users list` never use. `LazyMigrate.init_app` registers
the `flask db` group and a stand-in for `app.extensions["migrate"]`; the first `flask db ...`
command, `flask_migrate.upgrade()` call or migrations/env.py access sets up the real Flask-Migrate
with the same arguments.
"""

from __future__ import annotations

import logging
from typing import Any

import click
from flask import Flask, g
from flask.cli import with_appcontext


def _quiet_alembic_plugins() -> None:
    # Alembic announces each plugin at INFO when imported; imported before logging was set up they
    # were never shown, and they say nothing an operator needs.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class _PendingMigrate:
    """Stands in `app.extensions["migrate"]` until first used, then becomes the real one."""

    def __init__(self, app: Flask, db: Any, options: dict[str, Any]) -> None:
        self._app, self._db, self._options = app, db, options

    def _real(self) -> Any:
        _quiet_alembic_plugins()
        from flask_migrate import Migrate

        Migrate().init_app(self._app, self._db, **self._options)  # replaces this stand-in
        return self._app.extensions["migrate"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


class _MigrationCommands(click.Group):
    """`flask db`: Flask-Migrate's subcommands, looked up (and imported) when one is asked for."""

    @staticmethod
    def _commands() -> click.Group:
        _quiet_alembic_plugins()
        from flask_migrate.cli import db

        return db

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._commands().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._commands().get_command(ctx, cmd_name)


# The group's own options, as Flask-Migrate declares them (flask_migrate/cli.py `db`).
@click.group(cls=_MigrationCommands)
@click.option("-d", "--directory", default=None, help='Migration script directory (default is "migrations")')
@click.option("-x", "--x-arg", multiple=True, help="Additional arguments consumed by custom env.py scripts")
@with_appcontext
def db_commands(directory: str | None, x_arg: tuple[str, ...]) -> None:
    """Perform database migrations."""
    g.directory = directory
    g.x_arg = x_arg  # read by Migrate.get_config()


class LazyMigrate:
    def init_app(self, app: Flask, db: Any, **options: Any) -> None:
        app.extensions["migrate"] = _PendingMigrate(app, db, options)
        app.cli.add_command(db_commands, name="db")
