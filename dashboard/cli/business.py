"""`flask business export NAME --out DIR` and `flask business delete NAME [--yes]`.

For a business that asks for its data or leaves: the export writes everything the product holds
about it (dashboard/ops/business_data.py says what); the delete removes all of it, files included,
after a confirmation. Other businesses are not touched.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from dashboard.cli.common import fail, find_business

log = logging.getLogger(__name__)

business_cli = AppGroup("business", help="Export or delete everything held about one business.")


def _summary(rows: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in rows.items() if count) or "no rows"


@business_cli.command("export")
@click.argument("name")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new or empty folder.",
)
def export_command(name: str, out: Path) -> None:
    """Write everything held about a business (settings, schedules, history, mail, audit, POS data,
    members, export files) to a folder: one CSV per table, business.json, files/."""
    from dashboard.ops.business_data import export_business

    business = find_business(name)
    if business is None:
        fail(f"no business named {name!r}.")
    if out.exists() and any(out.iterdir()):
        fail(f"{out} is not empty: give a new or empty folder.")
    report = export_business(business, out)
    click.echo(
        f"Exported {name!r} to {out}: {_summary(report.rows)}; {report.files} file(s)"
        + (f", {report.missing_files} no longer stored" if report.missing_files else "")
        + "."
    )


@business_cli.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(name: str, yes: bool) -> None:
    """Delete a business and everything held about it, files included. Cannot be undone."""
    from dashboard.ops.business_data import counts, delete_business

    business = find_business(name)
    if business is None:
        fail(f"no business named {name!r}.")
    if not yes:
        click.echo(f"This deletes {name!r} for good: {_summary(counts(business.id))}, and its export files.")
        typed = click.prompt("Type the business's name to confirm", default="", show_default=False)
        if typed != name:
            fail("the name did not match; nothing was deleted.")
    report = delete_business(business)
    log.warning(
        "business deleted",
        extra={"job": "business_delete", "summary": {"business": name, **report.rows, "files": report.files}},
    )
    click.echo(
        f"Deleted {name!r}: {_summary(report.rows)}; {report.users_deleted} user(s) who belonged to no other "
        f"business; {report.files} file(s)"
        + (f", {report.missing_files} not found" if report.missing_files else "")
        + "."
    )
