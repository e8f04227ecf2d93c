"""`flask exports run`: one export to a file, from the command line (and the benchmarks)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import click

from dashboard.cli import exports_cli, fail, find_business
from dashboard.models.automation import EXPORT_TYPES, FORMATS
from dashboard.services.errors import ValidationError


def _size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{num_bytes} B"


@exports_cli.command("run")
@click.option("--business", "business_name", required=True, help="Business name.")
@click.option("--type", "export_type", required=True, help=f"Export type: {', '.join(EXPORT_TYPES)}.")
@click.option("--format", "fmt", required=True, help=f"Format: {', '.join(FORMATS)}.")
@click.option("--filters", "filters_json", default="{}", show_default=True, help="Filters as a JSON object.")
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=True, path_type=Path),
    help="Output file, or a directory for the standard file name (default: the current directory).",
)
@click.option("--pdf-max-rows", type=click.IntRange(min=1), default=None, help="Override PDF_MAX_ROWS.")
def run_export_command(business_name, export_type, fmt, filters_json, out, pdf_max_rows):
    """Run one export now and write it to a file."""
    from dashboard.exports.service import generate_export

    business = find_business(business_name)
    if business is None:
        fail(f"no business named {business_name!r}.")
    try:
        filters = json.loads(filters_json)
    except json.JSONDecodeError as exc:
        fail(f"--filters is not valid JSON ({exc.msg} at character {exc.pos}).")
    started = time.perf_counter()
    try:
        result = generate_export(
            business, export_type, fmt, filters, out_dir=_temp_dir_for(out), pdf_max_rows=pdf_max_rows
        )
    except ValidationError as exc:
        fail(f"invalid export request: {exc.summary()}")
    target = out if out is not None else Path.cwd()
    if target.is_dir():
        target = target / result.file_name
    shutil.move(str(result.path), target)
    seconds = time.perf_counter() - started
    truncated = f" (first {result.record_count:,} of {result.total_records:,})" if result.truncated else ""
    click.echo(
        f"Exported {result.record_count:,} records{truncated}, {_size(result.size)}, "
        f"in {seconds:.1f}s to {target}"
    )


def _temp_dir_for(out: Path | None) -> Path | None:
    """Write beside the target so that the final move is a rename, not a copy."""
    if out is None:
        return Path.cwd()
    if out.is_dir():
        return out
    parent = out.parent if str(out.parent) else Path.cwd()
    if not parent.is_dir():
        fail(f"the directory {str(parent)!r} does not exist.")
    return parent
