"""Writers: one per file format, each writing typed rows straight to a file as they come.

A writer is opened on a path with the export's description (`ExportMeta`), receives rows in
batches (`write_rows`), and finishes the file in `close()`. `abort()` releases what it holds when
the export fails; the service deletes the partial file.

Adding a format is one file here and one line in `dashboard/exports/registry.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dashboard.core.labels import content_type, file_extension
from dashboard.exports.columns import EXCEL_MAX_CHARS, Column


@dataclass
class ExportMeta:
    """What a writer needs besides the rows: the header block, the columns, the row counts."""

    business_name: str
    currency: str
    timezone: str
    export_type: str
    title: str  # "Sales"
    columns: list[Column]
    filters: dict  # resolved filters
    filters_text: str  # "1 Mar 2024 – 31 Mar 2024 (Previous month)"
    generated_at: datetime  # aware, in the business's timezone
    count_noun: str = "records"
    total_records: int | None = None  # rows matching, when counted (PDF)
    max_rows: int | None = None  # rows the file holds at most (PDF)
    extra: dict = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return (
            self.total_records is not None
            and self.max_rows is not None
            and self.total_records > self.max_rows
        )


class ExportWriter:
    format: str = ""
    # Both from dashboard/core/labels.py, filled in for each subclass from its `format`; a writer
    # may name a more precise content type (CSV adds its charset).
    extension: str = ""
    content_type: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.extension = file_extension(cls.format)
        cls.content_type = cls.__dict__.get("content_type") or content_type(cls.format)

    # How text cells are cleaned for this format, fused into the row converter (see columns.py).
    text_cell: Callable[[str | None], object] | None = None
    # Longer text always goes through text_cell (which cuts it to the format's limit); None: no limit.
    text_max: int | None = EXCEL_MAX_CHARS
    # Money and datetimes handed over as their text (columns.build_row_converter's `as_text`).
    cells_as_text: bool = False
    # Whether the service must count the matching rows first (to say "first N of M").
    needs_count: bool = False
    # Whether the format holds every row or stops at a limit (PDF_MAX_ROWS).
    limits_rows: bool = False

    def __init__(self, path: Path, meta: ExportMeta):
        self.path = path
        self.meta = meta
        self.rows_written = 0

    def write_rows(self, rows: list[tuple]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Release open handles after a failure; the caller removes the file."""
