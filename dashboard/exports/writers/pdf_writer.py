"""PDF through xhtml2pdf from `templates/pdf/export.html`.

Business name, export type, period or filters, generation time in the business's timezone, a table
whose header repeats on every page, a totals row and "Page X of Y". DejaVu Sans is embedded so
that names in any Latin, Greek or Cyrillic script render (xhtml2pdf's Helvetica holds Latin-1 only).

The file holds at most `meta.max_rows` rows (PDF_MAX_ROWS); when more match, its first page says
so ("This PDF holds the first N of M records; ..."): never a silent truncation.

xhtml2pdf lays out a long table in time that grows faster than its length, so rows go into one
<table> per `ROWS_PER_TABLE`. All of the rendering is `render_pdf()`: the performance work can
replace it (e.g. with reportlab directly) without touching the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from markupsafe import Markup, escape

from dashboard.exports.columns import Column, Totals, clean_text, truncate_text
from dashboard.exports.writers import ExportMeta, ExportWriter

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
TEMPLATE = "pdf/export.html"
# A page of landscape A4 holds about 36 one-line rows: the table's header repeats on each page.
ROWS_PER_TABLE = 200
# A cell is a line or a few: a 32,000-character note would be taller than a page.
PDF_MAX_CELL_CHARS = 300
CURRENCY_NAMES = {"USD": "US dollars", "GBP": "pounds sterling", "EUR": "euros"}

log = logging.getLogger(__name__)


class PdfRenderError(RuntimeError):
    """xhtml2pdf reported errors while building the document."""


def pdf_text(value: str | None) -> str | None:
    return truncate_text(clean_text(value), PDF_MAX_CELL_CHARS)


def format_cell(value: object, kind: str) -> str:
    """A typed value as the PDF shows it."""
    if value is None:
        return ""
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "int":
        return f"{value:,}"
    if kind == "datetime" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "bool":
        return "Yes" if value else "No"
    return str(value)


def render_table_html(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], totals: Sequence[str] | None
) -> Markup:
    """The rows as consecutive <table>s of ROWS_PER_TABLE rows, each repeating its header row."""
    total_width = sum(c.width for c in columns) or 1
    numeric = [c.kind in ("int", "money") for c in columns]
    header = "".join(
        f'<th width="{100 * c.width / total_width:.1f}%"{" class=num" if n else ""}>{escape(c.header)}</th>'
        for c, n in zip(columns, numeric, strict=True)
    )
    head = f'<table class="rows" repeat="1"><thead><tr>{header}</tr></thead><tbody>'
    open_num, open_text = '<td class="num">', "<td>"
    opens = [open_num if n else open_text for n in numeric]
    parts: list[str] = []
    for start in range(0, len(rows), ROWS_PER_TABLE):
        parts.append(head)
        for row in rows[start : start + ROWS_PER_TABLE]:
            parts.append(
                "<tr>"
                + "".join(o + str(escape(v)) + "</td>" for o, v in zip(opens, row, strict=True))
                + "</tr>"
            )
        if totals is not None and start + ROWS_PER_TABLE >= len(rows):
            parts.append(
                '<tr class="totals">'
                + "".join(o + str(escape(v)) + "</td>" for o, v in zip(opens, totals, strict=True))
                + "</tr>"
            )
        parts.append("</tbody></table>")
    return Markup("".join(parts))


def render_pdf(
    path: Path,
    meta: ExportMeta,
    rows: Sequence[Sequence[str]],
    totals: Sequence[str] | None,
) -> None:
    """Render formatted rows (strings) and the header block into a PDF file at `path`."""
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    generated = meta.generated_at.strftime("%d %b %Y %H:%M %Z").strip()
    currency_note = ""
    if any(c.kind == "money" for c in meta.columns):
        currency = (meta.currency or "").upper()
        currency_note = f"Amounts in {CURRENCY_NAMES.get(currency, currency)}" if currency else ""
    html = current_app.jinja_env.get_template(TEMPLATE).render(
        meta=meta,
        generated=generated,
        currency_note=currency_note,
        rows_written=len(rows),
        table_html=render_table_html(meta.columns, rows, totals) if rows else "",
        font_regular=FONT_REGULAR.as_uri(),
        font_bold=FONT_BOLD.as_uri(),
    )
    # xhtml2pdf reads local files only below base_dir: allow the font directory and nothing else.
    policy = ResourceAccessPolicy(base_dir=None, extra_roots=(FONT_DIR,), allow_remote=False)
    with open(path, "wb") as out:
        status = pisa.CreatePDF(html, dest=out, resource_policy=policy)
    if status.err:
        raise PdfRenderError(f"The PDF could not be built ({status.err} error(s) from xhtml2pdf).")


class PdfWriter(ExportWriter):
    format = "pdf"
    extension = "pdf"
    content_type = "application/pdf"
    text_cell = staticmethod(pdf_text)
    text_max = PDF_MAX_CELL_CHARS
    needs_count = True
    limits_rows = True

    def __init__(self, path: Path, meta: ExportMeta):
        super().__init__(path, meta)
        self.kinds = [c.kind for c in meta.columns]
        self.totals = Totals(meta.columns)
        self.rows: list[list[str]] = []

    def write_rows(self, rows: list[tuple]) -> None:
        self.totals.add(rows)
        kinds = self.kinds
        # Formatted now: strings are smaller than the typed tuples and the render needs them anyway.
        for row in rows:
            self.rows.append([format_cell(v, k) for v, k in zip(row, kinds, strict=True)])
        self.rows_written += len(rows)

    def _totals_texts(self) -> list[str]:
        label = f"Total: {self.rows_written:,} {self.meta.count_noun}"
        if self.meta.truncated:
            label += " (in this PDF)"
        values = self.totals.row(label)
        return [label] + [format_cell(v, k) for v, k in zip(values[1:], self.kinds[1:], strict=True)]

    def close(self) -> None:
        totals = self._totals_texts() if self.rows else None
        render_pdf(self.path, self.meta, self.rows, totals)
        self.rows = []

    def abort(self) -> None:
        self.rows = []
