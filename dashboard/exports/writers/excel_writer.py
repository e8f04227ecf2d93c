"""Excel (.xlsx) through openpyxl's write-only mode: rows go to disk as they come.

Typed cells (numbers, naive business-local datetimes, money in the business's currency format), a
bold frozen header with an autofilter, a bold totals row whose values are computed in Python (a
formula would show nothing in viewers that do not calculate), and a print setup: landscape, fit to
the page's width, the header row repeated on every printed page. Text that starts with a formula
character is a text cell with the quote-prefix style: shown as it is, never run, no `'` in sight.

Column widths come from the header and the widest formatted value of each column. Write-only mode
writes the widths before the first row, so the sheet starts with placeholder widths of a fixed
length, and `close` overwrites them in place once every value has been seen (a few bytes at the
start of the sheet's temporary file; nothing is copied).

Speed: openpyxl's `append` wraps every value in a new Cell and, for a pre-styled Cell, goes through
a ValueError whose message formats the cell's repr: about half the time of a row. This writer
keeps one styled Cell per column, sets its value and data type directly (the text was already
cleaned by `excel_text`, which is what openpyxl's own check does), and gives its worksheet a
`_values_to_row` that passes those cells through. Both are internals of openpyxl 3.1 (pinned in
requirements.txt); the tests read every file back with openpyxl's reader and with LibreOffice.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from dashboard.exports.columns import Column, GuardedText, Totals, excel_text
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

# Widths in Excel's units (the width of a "0" in the default font). A header needs room for its
# bold text and the autofilter's button; a value for itself and a little air. Long text stops at
# MAX_WIDTH (the cell still holds all of it).
HEADER_PADDING, BOLD_FACTOR, VALUE_PADDING = 3.5, 1.1, 2.0
MIN_WIDTH, MAX_WIDTH = 6.0, 60.0
FIXED_CHARS = {"datetime": len("2024-03-15 14:03:00"), "date": len("2024-03-15"), "bool": len("FALSE")}
# Written before the rows, overwritten in place by the real widths (same number of characters).
PLACEHOLDER_WIDTH = 99.1234567891
_PLACEHOLDER = f'width="{PLACEHOLDER_WIDTH!r}"'.encode()
_WIDTH_CHARS = len(repr(PLACEHOLDER_WIDTH))


def currency_symbol(currency: str) -> str | None:
    return CURRENCY_SYMBOLS.get((currency or "").upper())


def money_format(currency: str) -> str:
    """`"£"#,##0.00` for known currencies, `#,##0.00 "XYZ"` for another code, `#,##0.00` without."""
    code = (currency or "").upper()
    symbol = currency_symbol(code)
    if symbol is not None:
        return f'"{symbol}"#,##0.00'
    if re.fullmatch(r"[A-Z]{3}", code):
        return f'#,##0.00 "{code}"'
    return "#,##0.00"


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


class ColumnWidths:
    """The widest formatted value of each column, batch by batch, and the widths that follow."""

    def __init__(self, columns: list[Column], currency: str):
        self.columns = columns
        symbol = currency_symbol(currency)
        code = (currency or "").upper()
        # Characters the money format adds around the digits.
        self.money_extra = (
            len(symbol) if symbol else (len(code) + 1 if re.fullmatch(r"[A-Z]{3}", code) else 0)
        )
        self.chars = [float(FIXED_CHARS.get(c.kind, 0)) for c in columns]
        self.text = [i for i, c in enumerate(columns) if c.kind == "text"]
        self.numbers = [i for i, c in enumerate(columns) if c.kind in ("int", "money")]

    def number_chars(self, index: int, value: int | Decimal) -> int:
        kind = self.columns[index].kind
        if kind == "money":
            return len(f"{value:,.2f}") + self.money_extra
        return len(f"{value:,}")

    def add(self, rows: list[tuple]) -> None:
        if not rows:
            return
        chars = self.chars
        for index in self.text:
            widest = max(map(len, filter(None, [r[index] for r in rows])), default=0)
            if widest > chars[index]:
                chars[index] = widest
        for index in self.numbers:
            values = [v for r in rows if (v := r[index]) is not None]
            if values:
                for value in (max(values), min(values)):
                    chars[index] = max(chars[index], self.number_chars(index, value))

    def add_value(self, index: int, value: object) -> None:
        """One more value (the totals row's)."""
        if value is None:
            return
        if index in self.numbers and not isinstance(value, str):
            self.chars[index] = max(self.chars[index], self.number_chars(index, value))

    def widths(self) -> list[float]:
        result = []
        for column, chars in zip(self.columns, self.chars, strict=True):
            header = len(column.header) * BOLD_FACTOR + HEADER_PADDING
            value = chars + VALUE_PADDING if chars else 0
            result.append(round(min(MAX_WIDTH, max(MIN_WIDTH, header, value)), 2))
        return result


def _width_text(width: float) -> bytes:
    """`width` in exactly as many characters as the placeholder."""
    whole = str(int(width))
    return f"{width:.{_WIDTH_CHARS - len(whole) - 1}f}".encode()


def overwrite_widths(sheet_file: str, widths: list[float]) -> None:
    """Replace the placeholder widths at the start of a written sheet with `widths`, in place."""
    with open(sheet_file, "r+b") as handle:
        head = handle.read(64 * 1024)  # <cols> comes before the rows: well within this
        offsets = [m.start() + len(b'width="') for m in re.finditer(re.escape(_PLACEHOLDER), head)]
        if len(offsets) != len(widths):
            raise RuntimeError(f"expected {len(widths)} column widths in the sheet, found {len(offsets)}")
        for offset, width in zip(offsets, widths, strict=True):
            handle.seek(offset)
            handle.write(_width_text(width))


class ExcelWriter(ExportWriter):
    format = "excel"
    text_cell = staticmethod(excel_cell_text)
    max_sheet_rows = EXCEL_MAX_ROWS

    def __init__(self, path: Path, meta: ExportMeta):
        super().__init__(path, meta)
        self.columns = meta.columns
        self.formats = [_number_format(c, meta.currency) for c in self.columns]
        self.totals = Totals(self.columns) if any(c.total for c in self.columns) else None
        self.widths = ColumnWidths(self.columns, meta.currency)
        self.text_indexes = [i for i, c in enumerate(self.columns) if c.kind == "text"]
        self.workbook = Workbook(write_only=True)
        self.workbook.properties.title = f"{meta.title} export — {meta.business_name}"
        self.workbook.properties.subject = meta.filters_text
        self.workbook.properties.creator = "Export Automation"
        self.sheets = 0
        summary = meta.extra.get("summary")
        if summary and summary.get("figures"):
            self._summary_sheet(summary)
        self._new_sheet()
        # The workbook opens on the rows (the first tab says the figures): what most opens are for,
        # and what readers of `.active` (scripts, older tests) expect.
        self.workbook.active = len(self.workbook.worksheets) - 1

    def _summary_sheet(self, summary: dict) -> None:
        """A first sheet, "Summary": the period's headline figures beside the previous period's."""
        ws = self.workbook.create_sheet(title="Summary")
        ws.page_setup.orientation = "landscape"
        for letter, width in zip("ABCD", (24, 18, 18, 10), strict=True):
            ws.column_dimensions[letter].width = width
        money = money_format(self.meta.currency)

        def cell(value, number_format=None, bold=False):
            result = Cell(ws, row=1, column=1, value=value)  # placed by append
            if isinstance(value, str):
                result.data_type = "s"  # our own words and labels: never formulas
            if number_format:
                result.number_format = number_format
            if bold:
                result.font = HEADER_FONT
            return result

        period = summary.get("period") or {}
        previous = summary.get("previous_period") or {}
        ws.append([cell(f"{self.meta.title} — {self.meta.business_name}", bold=True)])
        ws.append([cell("Period", bold=True), cell(period.get("label", ""))])
        ws.append([cell("Compared with", bold=True), cell(previous.get("label") or "no earlier figures")])
        ws.append([])
        ws.append([cell(h, bold=True) for h in ("Figure", "This period", "Previous period", "Change")])
        for figure in summary["figures"]:
            number_format = INT_FORMAT if figure["kind"] == "int" else money

            def number(value, number_format=number_format, kind=figure["kind"]):
                if value is None:
                    return None
                return cell(int(value) if kind == "int" else Decimal(value), number_format)

            change = figure.get("change_percent")
            ws.append(
                [
                    cell(figure["label"]),
                    number(figure["current"]),
                    number(figure["previous"]),
                    None if change is None else cell(change / 100, "+0.0%;-0.0%;0.0%"),
                ]
            )

    def _new_sheet(self) -> None:
        self.sheets += 1
        title = self.meta.title if self.sheets == 1 else f"{self.meta.title} ({self.sheets})"
        ws = self.workbook.create_sheet(title=title[:31])
        ws._values_to_row = _pass_cells_through
        # Everything written before the rows must be set before the first row: the widths (as
        # placeholders, see the module docstring), the frozen header, fit-to-width.
        for index in range(1, len(self.columns) + 1):
            ws.column_dimensions[get_column_letter(index)].width = PLACEHOLDER_WIDTH
        ws.freeze_panes = "A2"
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
        ws.print_title_rows = "1:1"
        header = []
        for index, column in enumerate(self.columns, 1):
            cell = Cell(ws, row=1, column=index)
            cell._value, cell.data_type = excel_text(column.header), "s"
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.border = HEADER_BORDER
            # Over numbers the header sits right, like them; elsewhere left (dates read from the left).
            cell.alignment = Alignment(horizontal="right" if column.kind in ("int", "money") else "left")
            header.append(cell)
        ws.append(header)
        # One reusable Cell per column, styled once; write_rows only sets values.
        self.cells = []
        for index, (column, number_format) in enumerate(zip(self.columns, self.formats, strict=True), 1):
            cell = Cell(ws, row=2, column=index)
            if number_format:
                cell.number_format = number_format
            cell.data_type = DATA_TYPES[column.kind]
            if column.kind in ("datetime", "date"):
                cell.alignment = Alignment(horizontal="left")
            self.cells.append(cell)
        # Text cells swap to the quote-prefix style for a guarded value, and back.
        self.plain_styles = {i: self.cells[i]._style for i in self.text_indexes}
        self.quoted_styles = {}
        for i in self.text_indexes:
            style = copy.copy(self.cells[i]._style)
            self.cells[i]._style = style
            self.cells[i].quotePrefix = True
            self.quoted_styles[i] = self.cells[i]._style
            self.cells[i]._style = self.plain_styles[i]
        self.pairs = list(enumerate(self.cells))
        self.date_pairs = [(i, c) for i, c in self.pairs if c.data_type == "d"]
        self.ws = ws
        self.sheet_rows = 1

    def _finish_sheet(self, last_row: list | None = None) -> None:
        last_column = get_column_letter(len(self.columns))
        self.ws.auto_filter.ref = f"A1:{last_column}{self.sheet_rows}"
        if last_row is not None:
            self.ws.append(last_row)
        self.ws.close()
        overwrite_widths(self.ws._writer.out, self.widths.widths())

    def _guarded_rows(self, rows: list[tuple]) -> dict[int, list[int]]:
        """Row position -> the text columns holding guarded text, for this batch."""
        found: dict[int, list[int]] = {}
        for index in self.text_indexes:
            for position, row in enumerate(rows):
                if row[index].__class__ is GuardedText:
                    found.setdefault(position, []).append(index)
        return found

    def write_rows(self, rows: list[tuple]) -> None:
        if self.totals is not None:
            self.totals.add(rows)
        self.widths.add(rows)
        guarded = self._guarded_rows(rows)
        append, cells, pairs, date_pairs = self.ws.append, self.cells, self.pairs, self.date_pairs
        used = self.sheet_rows
        limit = self.max_sheet_rows - 1  # keep the last row for the totals
        for position, row in enumerate(rows):
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
            quoted = guarded.get(position)
            if quoted is None:
                append(cells)
            else:
                for index in quoted:
                    cells[index]._style = self.quoted_styles[index]
                append(cells)
                for index in quoted:
                    cells[index]._style = self.plain_styles[index]
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
            if index > 1:
                self.widths.add_value(index - 1, value)
            cell = Cell(self.ws, row=self.sheet_rows + 1, column=index, value=value)
            cell.font = HEADER_FONT
            cell.border = TOTAL_BORDER
            if index > 1 and number_format:
                cell.number_format = number_format
            row.append(cell)
        return row

    def close(self) -> None:
        self._finish_sheet(self._totals_row())
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
