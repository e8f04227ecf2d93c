"""generate_export(): the one call that the runner, the API, the web pages, the CLI and the benchmark use.

It validates and resolves the filters (in the business's timezone), streams the rows from the
database in batches on a connection of its own, writes them to a temporary file with the format's
writer, reports progress every batch, and returns an `ExportResult`. On any error, including one
raised by the progress callback (the runner raises to stop a run it no longer owns), the temporary
file is removed and the error propagates.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import Connection
from sqlalchemy.pool import StaticPool

from dashboard.core.collector import collector_paused
from dashboard.exports.columns import build_row_converter
from dashboard.exports.comparison import COMPARED_TYPES, compare_periods, last_inventory_summary
from dashboard.exports.datasets import BATCH_SIZE
from dashboard.exports.filters import describe_filters, local_today, resolve_filters, validate_export_request
from dashboard.exports.periods import file_name as period_file_name
from dashboard.exports.registry import get_dataset, get_writer
from dashboard.exports.writers import ExportMeta
from dashboard.extensions import db
from dashboard.models.pos import Business

DEFAULT_PDF_MAX_ROWS = 50_000


@dataclass
class ExportResult:
    path: Path  # the finished temporary file; the caller moves it to storage
    file_name: str  # "sales_2024-03-15.xlsx": the data's period (dashboard/exports/periods.py)
    content_type: str
    size: int  # bytes
    record_count: int  # rows written
    total_records: int  # rows matching (== record_count unless the PDF was truncated)
    truncated: bool
    filters_applied: dict  # resolved filters: a date_range with its start_date and end_date
    # The period's headline figures beside the previous period's (comparison.py); {} for others.
    summary: dict = field(default_factory=dict)


def build_file_name(export_type: str, fmt: str, on: date, filters: dict | None = None) -> str:
    """ "sales_2024-03-15.xlsx", "sales_2024-W11.csv", "sales_2024-03.pdf" or
    "sales_2024-03-01_to_2024-03-20.xlsx" from the resolved filters' period; `on` (the run's local
    date) for types without one: "customers_2024-03-15.xlsx" (dashboard/exports/periods.py)."""
    return period_file_name(get_dataset(export_type).file_stem, get_writer(fmt).extension, filters, on)


def content_type_for(fmt: str) -> str:
    return get_writer(fmt).content_type


@contextmanager
def _reading_connection() -> Iterator[Connection]:
    """A connection of our own: the caller's session may commit (e.g. a progress heartbeat) while
    rows stream, and a commit would close a PostgreSQL server-side cursor on a shared connection.

    An in-memory SQLite database (tests) is one shared connection: read through the session's.
    """
    engine = db.engine
    if isinstance(engine.pool, StaticPool):
        yield db.session.connection()
        return
    with engine.connect() as connection:
        yield connection


def generate_export(
    business: Business,
    export_type: str,
    fmt: str,
    filters: dict,
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    out_dir: Path | None = None,
    pdf_max_rows: int | None = None,
    owner_view: bool = True,
) -> ExportResult:
    """Write one export of `business` to a temporary file in `out_dir` (default: the temp dir).

    Raises ValidationError (FilterValidationError) for a bad type, format or filters, before any
    file is created. `progress(records_written_so_far)` is called after every batch of rows.
    `owner_view=False`: made for someone who is not an owner (owner-only audit details left out).
    """
    request = validate_export_request(export_type, fmt, filters)
    export_type, fmt = request["export_type"], request["format"]
    tz = business.timezone or "UTC"
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    resolved = resolve_filters(export_type, request["filters"], tz, now)

    dataset = get_dataset(export_type).for_viewer(owner_view)
    writer_class = get_writer(fmt)
    columns = dataset.columns(resolved)
    max_rows = None
    if writer_class.limits_rows:
        if pdf_max_rows is None and has_app_context():
            pdf_max_rows = current_app.config.get("PDF_MAX_ROWS")
        max_rows = max(1, int(pdf_max_rows or DEFAULT_PDF_MAX_ROWS))
    meta = ExportMeta(
        business_name=business.name,
        currency=business.currency or "",
        timezone=tz,
        export_type=export_type,
        title=dataset.title,
        columns=columns,
        filters=resolved,
        filters_text=describe_filters(export_type, resolved),
        generated_at=now.astimezone(ZoneInfo(tz)),
        count_noun=dataset.count_noun,
        max_rows=max_rows,
    )
    file_name = build_file_name(export_type, fmt, local_today(tz, now), resolved)

    out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.gettempdir())
    out_dir.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f"{dataset.file_stem}_export_", suffix=f".{writer_class.extension}", dir=out_dir
    )
    os.close(handle)
    path = Path(temp_name)
    writer = None
    try:
        convert = build_row_converter(
            columns,
            tz,
            text=writer_class.text_cell,
            text_max=writer_class.text_max,
            as_text=writer_class.cells_as_text,
        )
        with _reading_connection() as connection:
            if export_type in COMPARED_TYPES:
                # Two aggregate queries (this period, the one before), before the file: the Excel
                # summary sheet comes first and the PDF's first page shows the figures.
                snapshot = None
                if export_type == "INVENTORY":
                    snapshot = last_inventory_summary(connection, business, now)
                meta.extra["summary"] = compare_periods(
                    connection,
                    business,
                    export_type,
                    resolved,
                    today=local_today(tz, now),
                    previous_snapshot=snapshot,
                )
            if writer_class.needs_count:
                meta.total_records = dataset.count(connection, business, resolved)
            writer = writer_class(path, meta)
            written = 0
            batches = dataset.raw_batches(
                connection, business, resolved, limit=max_rows, batch_size=BATCH_SIZE
            )
            while True:
                # A batch's rows die together at its end: no collector passes over them meanwhile
                # (dashboard/core/collector.py). The progress call (a commit) runs outside.
                with collector_paused():
                    batch = next(batches, None)
                    if batch is None:
                        break
                    writer.write_rows(list(map(convert, batch)))
                written += len(batch)
                if progress is not None:
                    progress(written)
        writer.close()
        if progress is not None:
            progress(written)
    except BaseException:
        if writer is not None:
            writer.abort()
        path.unlink(missing_ok=True)
        raise

    total = meta.total_records if meta.total_records is not None else written
    return ExportResult(
        path=path,
        file_name=file_name,
        content_type=writer_class.content_type,
        size=path.stat().st_size,
        record_count=written,
        total_records=max(total, written),
        truncated=total > written,
        filters_applied=resolved,
        summary=meta.extra.get("summary") or {},
    )
