"""`flask users list | set-password | deactivate | activate`.

set-password and deactivate end the user's sessions and remember-me cookies at once (they bump
`session_version`, which every request checks); a deactivated user's API tokens stop working too
(tokens check the user is active). Each change is an audit entry in every business the user belongs
to, with `ip_address` "cli".
"""

from __future__ import annotations

import click
from sqlalchemy import select

from dashboard.cli.common import fail, find_business, require_user, users_cli
from dashboard.cli.passwords import password_options, read_password
from dashboard.extensions import db
from dashboard.models.pos import Membership, User
from dashboard.services.audit import record_audit

CLI_ADDRESS = "cli"


def _audit_everywhere(user: User, action: str, details: dict) -> None:
    for membership in user.memberships:
        record_audit(
            membership.business_id,
            action,
            entity="user",
            entity_id=user.id,
            details={"email": user.email, **details},
            ip_address=CLI_ADDRESS,
        )


def _end_sessions(user: User) -> None:
    from dashboard.auth.sessions import end_sessions  # the one place that knows how (auth)

    end_sessions(user)


@users_cli.command("list")
@click.option("--business", "business_name", default=None, help="Only the members of this business.")
def list_users(business_name: str | None) -> None:
    """List users: e-mail, active or not, and their businesses with roles."""
    query = select(User).order_by(User.email)
    if business_name:
        business = find_business(business_name)
        if business is None:
            fail(f"no business named {business_name!r}.")
        query = query.join(Membership, Membership.user_id == User.id).where(
            Membership.business_id == business.id
        )
    users = db.session.scalars(query).all()
    for user in users:
        roles = ", ".join(
            f"{m.business.name} ({m.role}{'' if m.is_active else ', removed'})"
            for m in sorted(user.memberships, key=lambda m: m.business.name)
        )
        state = "active" if user.is_active_user else "deactivated"
        click.echo(f"{user.email}\t{state}\t{user.name}\t{roles or '-'}")
    click.echo(f"{len(users)} user(s).", err=True)


@users_cli.command("set-password")
@click.argument("email")
@password_options
def set_password(email: str, password: str | None, password_stdin: bool) -> None:
    """Set a user's password (prompt or --password-stdin) and end all of their sessions."""
    user = require_user(email)
    # set_password() ends the sessions signed in with the old password (User.set_password).
    had_password = bool(user.password_hash)
    user.set_password(read_password(password, password_stdin))
    if not had_password:
        _end_sessions(user)
    _audit_everywhere(user, "user.password_set", {"by": "cli", "sessions_ended": True})
    db.session.commit()
    click.echo(f"Password of {user.email} set; their sessions are ended.")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop a user signing in or using their API tokens, and end their sessions now."""
    user = require_user(email)
    was_active = user.is_active_user
    user.is_active_user = False
    _end_sessions(user)
    _audit_everywhere(user, "user.deactivated", {"by": "cli", "was_active": was_active})
    db.session.commit()
    click.echo(f"{user.email} is deactivated; their sessions are ended and their tokens refused.")


@users_cli.command("activate")
@click.argument("email")
def activate(email: str) -> None:
    """Let a deactivated user sign in again (their old sessions stay ended)."""
    user = require_user(email)
    user.is_active_user = True
    _audit_everywhere(user, "user.activated", {"by": "cli"})
    db.session.commit()
    click.echo(f"{user.email} is active.")
