"""`flask demo seed`: deterministic demo point-of-sale data (dashboard/demo.py builds it)."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from dashboard.cli.common import demo_cli, fail
from dashboard.extensions import db
from dashboard.models.pos import Business


@demo_cli.command("seed")
@click.option("--business", "business_name", default=None, help="Seed only this business.")
@click.option("--sales", default=None, type=click.IntRange(min=0), help="Number of sales.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has businesses.")
@click.option("--yes-i-know", is_flag=True, help="Seed even in production (APP_ENV=production).")
def seed_command(business_name, sales, if_empty, yes_i_know):
    """Seed deterministic demo POS data."""
    from flask import current_app

    from dashboard import demo

    if current_app.config.get("ENV_NAME") == "production" and not yes_i_know:
        # Demo logins share a published password: never create them on a real database by accident.
        fail(
            "this is a production database (APP_ENV=production): the demo seed creates logins with "
            "the published demo password. Add --yes-i-know if you really mean it."
        )
    if if_empty and db.session.scalar(select(func.count(Business.id))):
        click.echo("Database already has data; demo seed skipped.")
        return
    if business_name:
        summary = demo.seed_business(business_name, sales=sales if sales is not None else 5000)
        click.echo(summary.describe())
    else:
        for summary in demo.seed_default(sales=sales):
            click.echo(summary.describe())
        click.echo("")
        click.echo(f"Demo logins (password: {demo.DEMO_PASSWORD}):")
        for line in demo.demo_logins():
            click.echo("  " + line)
