"""CSV: UTF-8 with a BOM (so Excel shows accents), a header row, RFC 4180 quoting, no totals row.

Values: text as is (formula-guarded), money as `1234.50`, datetimes as ISO 8601 business-local
time `2024-03-15 14:03:00` (the space form, which Excel and LibreOffice recognise as a date and
`datetime.fromisoformat` reads), dates as `2024-03-15`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from dashboard.exports.columns import csv_text
from dashboard.exports.writers import ExportMeta, ExportWriter


class CsvWriter(ExportWriter):
    format = "csv"
    content_type = "text/csv; charset=utf-8"
    text_cell = staticmethod(csv_text)
    text_max = None  # a CSV cell has no length limit (csv_text cuts nothing)
    cells_as_text = True  # the converter writes money and datetimes in the forms above

    def __init__(self, path: Path, meta: ExportMeta):
        super().__init__(path, meta)
        # newline="" lets the csv module write RFC 4180 CRLF line ends itself.
        self._file = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
        # Rows are formatted into a buffer and written once a batch: a file write per row costs
        # more than the formatting.
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer)
        # Headers are ours, but go through the guard like any text.
        self._csv.writerow([csv_text(c.header) for c in meta.columns])
        self._flush()

    def _flush(self) -> None:
        self._file.write(self._buffer.getvalue())
        self._buffer.seek(0)
        self._buffer.truncate()

    def write_rows(self, rows: list[tuple]) -> None:
        # Money and datetimes arrive as text (cells_as_text); csv.writer formats ints and dates
        # with str(): exactly the forms above.
        self._csv.writerows(rows)
        self._flush()
        self.rows_written += len(rows)

    def close(self) -> None:
        self._file.close()

    def abort(self) -> None:
        self._file.close()
