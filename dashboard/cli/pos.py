"""`flask pos import TYPE FILE.csv --business NAME` (docs/pos-schema.md).

Exit status: 0 when every row was imported (or already there), 1 when some rows were refused (the
others are imported; the report says which and why), 2 when the file or the command is wrong
(nothing imported).
"""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from dashboard.cli.common import fail, find_business

log = logging.getLogger(__name__)

pos_cli = AppGroup("pos", help="Point-of-sale data coming in (docs/pos-schema.md).")
SHOWN_REFUSALS = 20


@pos_cli.command("import")
@click.argument("kind", metavar="TYPE", type=click.Choice(["sales", "customers", "products", "audit"]))
@click.argument("path", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--business", "business_name", required=True, help="The business the data belongs to.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every refused row (line, key, reason) to this CSV file.",
)
def import_command(kind: str, path: Path, business_name: str, report_path: Path | None) -> None:
    """Load sales (with lines), customers, products or audit entries from a CSV file.

    Import customers and products before the sales that name them. Idempotent: the same file
    twice changes nothing."""
    from dashboard.ops.pos_import import ImportFileError, import_file

    business = find_business(business_name)
    if business is None:
        fail(f"no business named {business_name!r}.")
    try:
        report = import_file(business, kind, path)
    except ImportFileError as exc:
        fail(str(exc))
    click.echo(report.describe())
    for refusal in report.refused[:SHOWN_REFUSALS]:
        click.echo(f"  refused line {refusal.line} ({refusal.key or 'no key'}): {refusal.reason}")
    if len(report.refused) > SHOWN_REFUSALS:
        more = len(report.refused) - SHOWN_REFUSALS
        click.echo(
            f"  ... and {more:,} more" + (f" (all in {report_path})" if report_path else " (--report FILE)")
        )
    if report_path is not None:
        with open(report_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "key", "reason"])
            writer.writerows((r.line, r.key, r.reason) for r in report.refused)
    log.info(
        "pos import finished",
        extra={
            "job": "pos_import",
            "summary": {
                "business": business.name,
                "type": kind,
                "rows": report.rows,
                "inserted": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "refused": len(report.refused),
                "seconds": round(report.seconds, 2),
            },
        },
    )
    if report.refused:
        sys.exit(1)
