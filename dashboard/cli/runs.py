"""`flask exports run`: one export now, written to a file, and a MANUAL run like any other.

The run goes through `dashboard.services.runs` (a history record with trigger MANUAL and an audit
entry, contract section 6), executes in this process and is stored like every run (downloadable
from history); its file is then copied where `--out` says.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import click
from flask import current_app

from dashboard.cli.common import exports_cli, fail, find_business
from dashboard.models.automation import EXPORT_TYPES, FORMATS, SUCCESS_STATUSES


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
    """Run one export now (a MANUAL run in the history) and write it to a file."""
    # Imported here, not at start-up: every other `flask` command would pay for them.
    from dashboard.automation.fairness import QueueFull
    from dashboard.core.errors import ValidationError
    from dashboard.services.runs import run_export_now
    from dashboard.storage import StorageError

    business = find_business(business_name)
    if business is None:
        fail(f"no business named {business_name!r}.")
    try:
        filters = json.loads(filters_json)
    except json.JSONDecodeError as exc:
        fail(f"--filters is not valid JSON ({exc.msg} at character {exc.pos}).")
    target_dir = _target_dir(out)
    if pdf_max_rows is not None:
        current_app.config["PDF_MAX_ROWS"] = pdf_max_rows  # this command's process only
    started = time.perf_counter()
    try:
        history = run_export_now(business, export_type.upper(), fmt.lower(), filters)
    except ValidationError as exc:
        fail(f"invalid export request: {exc.summary()}")
    except QueueFull as exc:
        fail(f"{business.name} has too many exports waiting; try again in {exc.retry_after} seconds.")
    if history.status not in SUCCESS_STATUSES or not history.file_path:
        fail(f"the export failed (history record {history.id}): {history.error_message}")
    target = out if out is not None and not out.is_dir() else target_dir / history.file_name
    try:
        _copy_out(history.file_path, target)
    except (OSError, StorageError) as exc:
        fail(f"the export was made (history record {history.id}) but could not be written to {target}: {exc}")
    seconds = time.perf_counter() - started
    truncated = f" (first {history.record_count:,} of {history.total_records:,})" if history.truncated else ""
    click.echo(
        f"Exported {history.record_count:,} records{truncated}, {_size(history.file_size)}, "
        f"in {seconds:.1f}s to {target} (history record {history.id})"
    )


def _target_dir(out: Path | None) -> Path:
    """The directory the file goes to (checked before the export runs)."""
    if out is None:
        return Path.cwd()
    if out.is_dir():
        return out
    parent = out.parent if str(out.parent) else Path.cwd()
    if not parent.is_dir():
        fail(f"the directory {str(parent)!r} does not exist.")
    return parent


def _copy_out(stored_path: str, target: Path) -> None:
    """Copy the stored file to `target` through a temporary file beside it (renamed at the end),
    so an interrupted copy never leaves a half file under the asked name."""
    from dashboard.storage import get_storage

    fd, temporary = tempfile.mkstemp(prefix=".export-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as sink, get_storage().get_export_file(stored_path) as source:
            while chunk := source.read(1024 * 1024):
                sink.write(chunk)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
