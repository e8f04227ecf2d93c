"""The command groups that several modules of this package fill (`flask users`, `flask exports`,
`flask demo`, `flask scheduler`), and the lookups and exit every command shares."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models.pos import Business, User

users_cli = AppGroup("users", help="Create users, issue and revoke API tokens.")
demo_cli = AppGroup("demo", help="Demo point-of-sale data.")
exports_cli = AppGroup("exports", help="Run exports and the automation jobs once.")
scheduler_cli = AppGroup("scheduler", help="The export scheduler.")


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def require_user(email: str) -> User:
    """The user with this e-mail address (any case), or exit 2 saying there is none."""
    user = find_user(email)
    if user is None:
        fail(f"no user with e-mail {email}.")
    return user


def find_business(name: str) -> Business | None:
    return db.session.scalar(select(Business).where(Business.name == name))


def fail(message: str) -> NoReturn:
    """Say what is wrong on stderr and exit with status 2 (the command or its input is wrong)."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)
