"""PDF: the header block from `templates/pdf/export.html` (xhtml2pdf), the table in platypus.

One reportlab document (xhtml2pdf is built on reportlab's platypus): the templated header block
(pdf_header: business name, export type, period or filters, generation time in the business's
timezone, record count, totals, the "first N of M" notice, "no records") is parsed by xhtml2pdf into
platypus flowables, and the table follows it as `RowBlock` flowables (pdf_platypus) that draw their
rows straight onto the page. Every page carries the table's header row and a footer with "Page X
of Y". Fonts (pdf_fonts): DejaVu Sans embedded, a CJK font as a per-character fallback, a box that
extracts as the original character for what neither holds. Geometry (pdf_layout): no amount or
date wraps; the table's font shrinks when the page is too narrow for them.

Memory: the writer spools the formatted rows to an anonymous temporary file, and `render_pdf`
feeds platypus one block of rows at a time; what grows is what reportlab keeps until it writes
the file, about 4-5 KB a page once each page is compressed (50,000 sales rows, 1,300 pages:
156 MB peak for the whole process). The header block is rendered after the last row is read, so
its counts and totals are the file's own ("Records: 2,000 of 12,345").

The file holds at most `meta.max_rows` rows (PDF_MAX_ROWS); when more match, its first page says
so ("This PDF holds the first N of M records; ..."): never a silent truncation.
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from dashboard.core.display import datetime_display
from dashboard.exports.columns import Totals, clean_text, truncate_text
from dashboard.exports.writers import ExportMeta, ExportWriter
from dashboard.exports.writers.pdf_fonts import FONT, FontInDocument, register_fonts
from dashboard.exports.writers.pdf_header import header_flowables, render_header_html
from dashboard.exports.writers.pdf_layout import (
    FOOTER_SIZE,
    FOOTER_Y,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    PAGE_HEIGHT,
    PAGE_NUMBER_WIDTH,
    PAGE_WIDTH,
    UNBROKEN_KINDS,
    TableLayout,
    column_widths,
    fit_text,
    format_cell,
    wrap_text,
)
from dashboard.exports.writers.pdf_platypus import (
    EVEN,
    FOOTER_INK,
    ODD,
    PAGE_COUNT_FORM,
    TOTALS,
    platypus_classes,
)

__all__ = ["PdfWriter", "render_pdf", "column_widths", "wrap_text", "format_cell", "widest_values"]

# A cell is a line or a few: a 32,000-character note would be taller than a page.
PDF_MAX_CELL_CHARS = 300
# Rows handed to platypus at a time: memory holds one block (plus the spool's read buffer).
BLOCK_ROWS = 500


def pdf_text(value: str | None) -> str | None:
    return truncate_text(clean_text(value), PDF_MAX_CELL_CHARS)


def widest_values(
    columns: Sequence, rows: Iterable[Sequence[str]], widest: list[str] | None = None
) -> list[str]:
    """The longest formatted text of each never-wrapping column (numbers, dates) over `rows`,
    merged into `widest`; other columns stay "". Longest is widest: digits share one width."""
    widest = list(widest or [""] * len(columns))
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return widest
    for index, column in enumerate(columns):
        if column.kind in UNBROKEN_KINDS:
            longest = max((row[index] for row in rows), key=len)
            if len(longest) > len(widest[index]):
                widest[index] = longest
    return widest


def render_pdf(
    path: Path,
    meta: ExportMeta,
    rows: Iterable[Sequence[str]],
    totals: Sequence[str] | None,
    *,
    row_count: int | None = None,
    widest: Sequence[str] | None = None,
) -> None:
    """Render formatted rows (strings, in column order) and the header block into a PDF at `path`.

    `rows` may be any iterable (the writer streams them from its spool); `row_count` is how many
    it yields (default `len(rows)`), shown in the header block before the rows are read.
    `widest`: each column's widest formatted value (`widest_values`); without it, the totals row's.
    """
    from reportlab.pdfbase import pdfmetrics

    RowBlock, Story, PageCountCanvas, BaseDocTemplate, Frame, PageTemplate = platypus_classes()
    register_fonts()
    if row_count is None:
        row_count = len(rows)  # type: ignore[arg-type]
    if totals is not None:
        widest = widest_values(meta.columns, [totals], widest)
    page_one_totals = [
        (column.header, text)
        for column, text in zip(meta.columns, totals or [], strict=False)
        if column.total and text
    ]
    head = header_flowables(render_header_html(meta, row_count, totals=page_one_totals))
    footer_text = f"{meta.business_name} · {meta.title} export · {datetime_display(meta.generated_at)}"
    footer_font: list[FontInDocument] = []

    def footer(canvas, doc) -> None:
        # The footer's text through the table's font machinery: a CJK business name falls back too.
        if not footer_font:
            footer_font.append(FontInDocument(pdfmetrics.getFont(FONT), canvas._doc, FOOTER_SIZE))
        font = footer_font[0]
        left = fit_text(footer_text, FRAME_WIDTH - PAGE_NUMBER_WIDTH - 10, font.width)
        canvas.saveState()
        canvas.setFont(FONT, FOOTER_SIZE)
        canvas.setFillColorRGB(*(float(v) for v in FOOTER_INK.split()))
        canvas.addLiteral(f"BT {FOOTER_INK} rg 1 0 0 1 {MARGIN_X:.2f} {FOOTER_Y:.2f} Tm {font.ops(left)} ET")
        # "Page X of " then the page count, known once the last page is done (PageCountCanvas).
        label = f"Page {canvas.getPageNumber():,} of "
        x = PAGE_WIDTH - MARGIN_X - PAGE_NUMBER_WIDTH
        canvas.drawString(x, FOOTER_Y, label)
        canvas.translate(x + canvas.stringWidth(label, FONT, FOOTER_SIZE), FOOTER_Y)
        canvas.doForm(PAGE_COUNT_FORM)
        canvas.restoreState()

    doc = BaseDocTemplate(
        str(path),
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=f"{meta.title} export — {meta.business_name}",
        author=meta.business_name,
        subject=meta.filters_text,
        creator="Export Automation",
        pageCompression=1,
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, FRAME_WIDTH, FRAME_HEIGHT, 0, 0, 0, 0, id="body", showBoundary=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=footer)])

    def blocks() -> Iterator:
        # Runs inside doc.build, once the canvas exists: font subsets belong to its PDFDocument.
        layout = TableLayout(meta.columns, doc.canv._doc, widest)
        header = layout.prepare([c.header for c in meta.columns], bold=True)
        block: list = []
        first = True
        index = 0
        for row in rows:
            height, cells = layout.prepare(row, bold=False)
            block.append((height, cells, ODD if index % 2 else EVEN))
            index += 1
            if len(block) == BLOCK_ROWS:
                yield RowBlock(layout, header, block, first)
                block, first = [], False
        if totals is not None:
            block.append((*layout.prepare_totals(totals), TOTALS))
        if block:
            yield RowBlock(layout, header, block, first)

    story = Story(head, blocks() if row_count else iter(()))
    doc.build(story, canvasmaker=PageCountCanvas)


class PdfWriter(ExportWriter):
    format = "pdf"
    text_cell = staticmethod(pdf_text)
    text_max = PDF_MAX_CELL_CHARS
    needs_count = True
    limits_rows = True

    def __init__(self, path: Path, meta: ExportMeta):
        super().__init__(path, meta)
        self.kinds = [c.kind for c in meta.columns]
        self.totals = Totals(meta.columns)
        self.widest = [""] * len(meta.columns)
        # Formatted rows wait on disk (an anonymous file, gone when closed) until the header,
        # which states the counts, can be rendered: memory stays flat however many rows come.
        self.spool = tempfile.TemporaryFile(prefix="pdf_rows_", dir=path.parent)

    def write_rows(self, rows: list[tuple]) -> None:
        self.totals.add(rows)
        kinds = self.kinds
        formatted = [[format_cell(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows]
        self.widest = widest_values(self.meta.columns, formatted, self.widest)
        marshal.dump(formatted, self.spool)
        self.rows_written += len(rows)

    def _spooled_rows(self) -> Iterator[list[str]]:
        self.spool.seek(0)
        while True:
            try:
                batch = marshal.load(self.spool)
            except EOFError:
                return
            yield from batch

    def _totals_texts(self) -> list[str]:
        label = f"Total: {self.rows_written:,} {self.meta.count_noun}"
        if self.meta.truncated:
            label += " (in this PDF)"
        values = self.totals.row(label)
        return [label] + [format_cell(v, k) for v, k in zip(values[1:], self.kinds[1:], strict=True)]

    def close(self) -> None:
        try:
            totals = self._totals_texts() if self.rows_written else None
            render_pdf(
                self.path,
                self.meta,
                self._spooled_rows(),
                totals,
                row_count=self.rows_written,
                widest=self.widest,
            )
        finally:
            self.spool.close()

    def abort(self) -> None:
        self.spool.close()
