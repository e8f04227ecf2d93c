"""`flask users create | token | revoke-tokens | sign-out` (the operator's user commands are in
user_admin.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from sqlalchemy import select

from dashboard.cli.common import fail, find_business, find_user, require_user, users_cli
from dashboard.cli.passwords import password_options, read_password
from dashboard.extensions import db
from dashboard.models.pos import ROLES, Business, Membership, User


@users_cli.command("create")
@click.argument("email")
@password_options
@click.option("--business", "business_name", required=True, help="Business name (created if new).")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--timezone", "tz", default="UTC", show_default=True, help="IANA timezone of a new business.")
@click.option("--name", default="", help="Display name.")
@click.option("--currency", default="USD", show_default=True, help="Currency of a new business.")
def create_user(email, password, password_stdin, business_name, role, tz, name, currency):
    """Create a user (or add a membership to an existing one). The password: a prompt, or
    --password-stdin (scripts), or --password (visible in `ps`: avoid)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        fail(f"{email!r} is not a valid e-mail address: {exc}")
    password = read_password(password, password_stdin)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"{tz!r} is not an IANA timezone name (for example Europe/London).")
    business = find_business(business_name)
    if business is None:
        business = Business(name=business_name, timezone=tz, currency=currency.upper()[:3])
        db.session.add(business)
        click.echo(f"Created business {business_name!r} ({tz}).")
    user = find_user(email)
    if user is None:
        user = User(email=email, name=name or email.split("@")[0])
        user.set_password(password)
        db.session.add(user)
        click.echo(f"Created user {email}.")
    else:
        user.set_password(password)
        if name:
            user.name = name
    db.session.flush()
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.business_id == business.id)
    )
    if membership is None:
        db.session.add(Membership(user=user, business=business, role=role))
        click.echo(f"Added {email} to {business_name!r} as {role}.")
    else:
        membership.role = role
        membership.is_active = True
        click.echo(f"{email} is {role} of {business_name!r}.")
    db.session.commit()


@users_cli.command("token")
@click.argument("email")
@click.option("--business", "business_name", default=None, help="Which business the token acts in.")
def create_token_command(email, business_name):
    """Print a new API token (and nothing else on stdout)."""
    from dashboard.auth.tokens import create_token

    user = require_user(email)
    memberships = [m for m in user.memberships if m.is_active]
    if business_name:
        memberships = [m for m in memberships if m.business.name == business_name]
        if not memberships:
            fail(f"{email} is not an active member of {business_name!r}.")
    if not memberships:
        fail(f"{email} is not an active member of any business.")
    if len(memberships) > 1:
        names = ", ".join(sorted(m.business.name for m in memberships))
        fail(f"{email} belongs to several businesses ({names}); choose one with --business.")
    click.echo(create_token(memberships[0]))


@users_cli.command("revoke-tokens")
@click.argument("email")
def revoke_tokens_command(email):
    """Revoke every API token of a user, and end their sessions."""
    from dashboard.auth.sessions import end_sessions
    from dashboard.auth.tokens import revoke_tokens

    user = require_user(email)
    end_sessions(user)  # committed by revoke_tokens
    count = revoke_tokens(user)
    click.echo(f"Revoked {count} token(s) of {email} and ended their sessions.")


@users_cli.command("sign-out")
@click.argument("email")
def sign_out_command(email):
    """End every session and remember-me cookie of a user (API tokens stay: see revoke-tokens)."""
    from dashboard.auth.sessions import end_sessions

    user = require_user(email)
    end_sessions(user)
    db.session.commit()
    click.echo(f"Signed {user.email} out everywhere.")
