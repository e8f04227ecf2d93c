"""Excel (.xlsx) through openpyxl's write-only mode: rows go to disk as they come.

Typed cells (numbers, naive business-local datetimes, currency-formatted money), a bold frozen
header with an autofilter, column widths from the dataset, and a bold totals row whose values are
computed in Python (a formula would show nothing in viewers that do not calculate).

Speed: openpyxl's `append` wraps every value in a new Cell and, for a pre-styled Cell, goes through
a ValueError whose message formats the cell's repr: about half the time of a row. This writer
keeps one styled Cell per column, sets its value and data type directly (the text was already
cleaned and guarded by `excel_text`, which is what openpyxl's own check does), and gives its
worksheet a `_values_to_row` that passes those cells through. Both are internals of openpyxl
3.1 (pinned in requirements.txt); the tests read every file back with openpyxl's reader.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from dashboard.exports.columns import Column, Totals, excel_text
from dashboard.exports.writers import ExportMeta, ExportWriter

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
INT_FORMAT = "#,##0"
CURRENCY_SYMBOLS = {
    "USD": "$",
    "GBP": "£",
    "EUR": "€",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "AUD": "A$",
    "CAD": "C$",
    "NZD": "NZ$",
    "CHF": "CHF ",
    "SEK": "kr ",
    "NOK": "kr ",
    "DKK": "kr ",
    "BRL": "R$",
    "MXN": "MX$",
    "ZAR": "R ",
}
# Excel's sheet holds 1,048,576 rows: the header, then data; the rest continues on another sheet.
EXCEL_MAX_ROWS = 1_048_576
DATA_TYPES = {"text": "s", "int": "n", "money": "n", "datetime": "d", "date": "d", "bool": "b"}

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E8ECEF")
HEADER_BORDER = Border(bottom=Side(style="thin", color="9AA5AE"))
TOTAL_BORDER = Border(top=Side(style="thin", color="9AA5AE"))


def money_format(currency: str) -> str:
    """`"£"#,##0.00` for known currencies, `#,##0.00` otherwise."""
    symbol = CURRENCY_SYMBOLS.get((currency or "").upper())
    if symbol is None:
        return "#,##0.00"
    return f'"{symbol}"#,##0.00'


def excel_cell_text(value: str | None) -> str | None:
    # An empty string would be written as an inline string with no text; leave the cell empty.
    return excel_text(value) or None


def _number_format(column: Column, currency: str) -> str | None:
    if column.kind == "money":
        return money_format(currency)
    if column.kind == "datetime":
        return DATETIME_FORMAT
    if column.kind == "date":
        return DATE_FORMAT
    if column.kind == "int":
        return INT_FORMAT
    return None


def _pass_cells_through(values, row_idx):
    """Replaces WriteOnlyWorksheet._values_to_row: every row we append is a list of our Cells."""
    for cell in values:
        if cell is not None:
            cell.row = row_idx
            yield cell


class ExcelWriter(ExportWriter):
    format = "excel"
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    text_cell = staticmethod(excel_cell_text)
    max_sheet_rows = EXCEL_MAX_ROWS

    def __init__(self, path: Path, meta: ExportMeta):
        super().__init__(path, meta)
        self.columns = meta.columns
        self.formats = [_number_format(c, meta.currency) for c in self.columns]
        self.totals = Totals(self.columns) if any(c.total for c in self.columns) else None
        self.workbook = Workbook(write_only=True)
        self.workbook.properties.title = f"{meta.title} export — {meta.business_name}"
        self.workbook.properties.subject = meta.filters_text
        self.workbook.properties.creator = "Export Automation"
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        title = self.meta.title if self.sheets == 1 else f"{self.meta.title} ({self.sheets})"
        ws = self.workbook.create_sheet(title=title[:31])
        ws._values_to_row = _pass_cells_through
        # Widths and the frozen header must be set before the first row is written.
        for index, column in enumerate(self.columns, 1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.freeze_panes = "A2"
        header = []
        for index, column in enumerate(self.columns, 1):
            cell = Cell(ws, row=1, column=index, value=excel_text(column.header))
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.border = HEADER_BORDER
            cell.alignment = Alignment(horizontal="left" if column.kind == "text" else "right")
            header.append(cell)
        ws.append(header)
        # One reusable Cell per column, styled once; write_rows only sets values.
        self.cells = []
        for index, (column, number_format) in enumerate(zip(self.columns, self.formats, strict=True), 1):
            cell = Cell(ws, row=2, column=index)
            if number_format:
                cell.number_format = number_format
            cell.data_type = DATA_TYPES[column.kind]
            self.cells.append(cell)
        self.pairs = list(enumerate(self.cells))
        self.date_pairs = [(i, c) for i, c in self.pairs if c.data_type == "d"]
        self.ws = ws
        self.sheet_rows = 1

    def _finish_sheet(self) -> None:
        last_column = get_column_letter(len(self.columns))
        self.ws.auto_filter.ref = f"A1:{last_column}{self.sheet_rows}"

    def write_rows(self, rows: list[tuple]) -> None:
        if self.totals is not None:
            self.totals.add(rows)
        append, cells, pairs, date_pairs = self.ws.append, self.cells, self.pairs, self.date_pairs
        used = self.sheet_rows
        limit = self.max_sheet_rows - 1  # keep the last row for the totals
        for row in rows:
            if used >= limit:
                self.sheet_rows = used
                self._finish_sheet()
                self._new_sheet()
                append, cells, pairs, date_pairs = self.ws.append, self.cells, self.pairs, self.date_pairs
                used = self.sheet_rows
            for index, cell in pairs:
                cell._value = row[index]
            for index, cell in date_pairs:
                # openpyxl converts a "d" cell's value to a serial number, which None has not.
                cell.data_type = "n" if row[index] is None else "d"
            append(cells)
            used += 1
        self.sheet_rows = used
        self.rows_written += len(rows)

    def _totals_row(self) -> list[Cell]:
        noun = self.meta.count_noun
        label = f"Total: {self.rows_written:,} {noun}"
        values = (
            self.totals.row(label) if self.totals is not None else [label] + [None] * (len(self.columns) - 1)
        )
        row = []
        for index, (value, number_format) in enumerate(zip(values, self.formats, strict=True), 1):
            if value is None:
                row.append(None)
                continue
            cell = Cell(self.ws, row=self.sheet_rows + 1, column=index, value=value)
            cell.font = HEADER_FONT
            cell.border = TOTAL_BORDER
            if index > 1 and number_format:
                cell.number_format = number_format
            row.append(cell)
        return row

    def close(self) -> None:
        self._finish_sheet()
        self.ws.append(self._totals_row())
        self.workbook.save(self.path)

    def abort(self) -> None:
        # Each write-only sheet streams into a temporary file: finish and remove them, so that
        # nothing is left behind and no half-closed XML writer complains when collected.
        for ws in self.workbook.worksheets:
            try:
                if not ws.closed:
                    ws.close()
                if ws._writer is not None:
                    ws._writer.cleanup()
            except Exception:  # noqa: S110 - best effort on a failure path
                pass
