"""`flask destinations rotate-secrets`: re-encrypt stored destination secrets with the newest key."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from dashboard.destinations.errors import SecretUnreadable

destinations_cli = AppGroup("destinations", help="Destinations besides e-mail (webhook, Slack, SFTP, S3).")


@destinations_cli.command("rotate-secrets")
def rotate_secrets_command() -> None:
    """Re-encrypt every destination secret with the first DESTINATIONS_SECRET_KEYS key."""
    from dashboard.services.destinations import rotate_secrets

    try:
        schedules, secrets = rotate_secrets()
    except SecretUnreadable as exc:
        click.echo(f"Error: {exc} Nothing was rewritten; put the old key back in the list.", err=True)
        sys.exit(2)
    click.echo(f"Re-encrypted {secrets} secret(s) on {schedules} schedule(s) with the first key.")
