"""PDF: the header block from `templates/pdf/export.html` (xhtml2pdf), the table in platypus.

One reportlab document (xhtml2pdf is built on reportlab's platypus): the templated header block
(business name, export type, period or filters, generation time in the business's timezone, the
"first N of M" notice, "no records") is parsed by xhtml2pdf into platypus flowables, and the
table follows it as `RowBlock` flowables that draw their rows straight onto the page. Every page
carries the table's header row and a footer with "Page X of Y". DejaVu Sans is embedded so that
names in any Latin, Greek or Cyrillic script render (the PDF base fonts hold Latin-1 only).

Why not the table in xhtml2pdf, or in platypus's own Table: xhtml2pdf lays out about 110 rows/s
at best (one <table> per 200 rows; one long table is superlinear), and platypus's Table draws
each cell through reportlab's text objects, about 1,000 rows/s without the rl_accel C extension
(measured here: 10,000 rows in 9-10 s). A RowBlock wraps cell text itself, knows its row heights
and writes each cell as a few PDF operators: the whole export then runs at 5,000-8,000 rows/s,
linearly (bench/bench_exports.py).

Memory: the writer spools the formatted rows to an anonymous temporary file, and `render_pdf`
feeds platypus one block of rows at a time; what grows is what reportlab keeps until it writes
the file, about 4-5 KB a page once each page is compressed (50,000 sales rows, 1,300 pages:
156 MB peak for the whole process). The header block is rendered after the last row is read, so
its counts are the file's own ("Records: 2,000 of 12,345").

The file holds at most `meta.max_rows` rows (PDF_MAX_ROWS); when more match, its first page says
so ("This PDF holds the first N of M records; ..."): never a silent truncation.
"""

from __future__ import annotations

import functools
import marshal
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dashboard.exports.columns import Totals, clean_text, truncate_text
from dashboard.exports.writers import ExportMeta, ExportWriter

# DejaVu Sans ships with the code (dashboard/exports/fonts/, with its licence): PDF exports work on
# macOS or a slim image without Debian's fonts-dejavu-core. Search order: PDF_FONT_DIR, the bundled
# copy, Debian's folder (see dashboard/exports/fonts/README.md).
BUNDLED_FONT_DIR = Path(__file__).resolve().parents[1] / "fonts"
SYSTEM_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
FONT = "DejaVuSans"  # reportlab names; the template's "DejaVu Sans" maps to them
FONT_BOLD_NAME = "DejaVuSans-Bold"
TEMPLATE = "pdf/export.html"
TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "templates"
# A cell is a line or a few: a 32,000-character note would be taller than a page.
PDF_MAX_CELL_CHARS = 300
# No row may be taller than a page: a cell shows at most this many wrapped lines.
MAX_CELL_LINES = 24
# Rows handed to platypus at a time: memory holds one block (plus the spool's read buffer).
BLOCK_ROWS = 500
# Repeated texts (names, statuses, amounts) are measured and encoded once per document, up to here.
CACHE_ENTRIES = 10_000
CURRENCY_NAMES = {"USD": "US dollars", "GBP": "pounds sterling", "EUR": "euros"}

# Landscape A4, in points.
PAGE_WIDTH, PAGE_HEIGHT = 841.89, 595.28
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 28.35, 34.0, 42.5
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
FRAME_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
FOOTER_Y, FOOTER_SIZE = 22.0, 7.0
PAGE_NUMBER_WIDTH = 90.0  # "Page 1,250 of 1,250" at the footer's size, with room to spare
FONT_SIZE, LEADING = 7.5, 9.2
PAD_X, PAD_TOP, PAD_BOTTOM = 2.5, 2.2, 1.6
BASELINE = PAD_TOP + 0.78 * FONT_SIZE  # from a row's top to its first line's baseline
# Colours as PDF operands (r g b): text, header background, alternate rows, rules, footer text.
INK, HEAD_FILL, ZEBRA_FILL, RULE, FOOTER_INK = (
    "0.122 0.161 0.2",
    "0.91 0.925 0.937",
    "0.965 0.973 0.98",
    "0.482 0.529 0.58",
    "0.322 0.376 0.427",
)
PAGE_COUNT_FORM = "pageCount"
# Kinds of table rows: they differ in font, background and rules.
HEADER, EVEN, ODD, TOTALS = "header", "even", "odd", "totals"

Measure = Callable[[str], float]  # a text's width in points


class PdfRenderError(RuntimeError):
    """xhtml2pdf reported errors while building the header block."""


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


# ---- text measuring and wrapping (pure: a width function in, lines out) --------------------------


def wrap_text(text: str, width: float, measure: Measure, max_lines: int = MAX_CELL_LINES) -> list[str]:
    """`text` as lines no wider than `width` (by `measure(str) -> points`): broken at spaces, a
    word wider than the column between characters; line breaks in the text are kept, tabs are
    spaces. More than `max_lines` lines end with "…"."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if "\n" not in text and measure(text) <= width:
        return [text]
    space = measure(" ")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, line_width = "", 0.0
        for word in paragraph.split(" "):
            word_width = measure(word)
            if line and line_width + space + word_width <= width:
                line, line_width = f"{line} {word}", line_width + space + word_width
                continue
            if line:
                lines.append(line)
            elif not word:
                continue  # a space at the start of a line
            while word_width > width and len(word) > 1:
                cut = _fitting_prefix(word, width, measure)
                lines.append(word[:cut])
                word = word[cut:]
                word_width = measure(word)
            line, line_width = word, word_width
        lines.append(line)
        if len(lines) > max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and measure(last + "…") > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _fitting_prefix(word: str, width: float, measure: Measure) -> int:
    """How many leading characters of `word` fit in `width` (at least one), ending after a
    punctuation mark when one is in the second half ("http://example.com/" | "x")."""
    used = 0.0
    for index, char in enumerate(word):
        used += measure(char)
        if used > width:
            soft = max(word.rfind(mark, 0, index) for mark in SOFT_BREAKS) + 1
            return soft if soft > index // 2 else max(1, index)
    return len(word)


# Where a word too long for its column is best cut: after one of these.
SOFT_BREAKS = "/.,-_@?&=;:)]"


def column_widths(weights: Sequence[float], minimums: Sequence[float], total: float) -> list[float]:
    """`total` shared in proportion to `weights`, each column at least its minimum (when the
    minimums fit at all); the columns above their minimum give up what the others need."""
    fixed: set[int] = set()
    while True:
        free = total - sum(minimums[i] for i in fixed)
        weight = sum(w for i, w in enumerate(weights) if i not in fixed) or 1
        widths = [minimums[i] if i in fixed else free * w / weight for i, w in enumerate(weights)]
        short = {i for i, w in enumerate(widths) if i not in fixed and w < minimums[i]}
        if not short or len(fixed | short) == len(weights):
            return widths
        fixed |= short


# ---- the header block: templates/pdf/export.html ------------------------------------------------


def render_header_html(meta: ExportMeta, rows_written: int, *, jinja_env: Any | None = None) -> str:
    """The header block's HTML (Jinja escapes every value: markup in data shows as text)."""
    generated = meta.generated_at.strftime("%d %b %Y %H:%M %Z").strip()
    currency_note = ""
    if any(c.kind == "money" for c in meta.columns):
        currency = (meta.currency or "").upper()
        currency_note = f"Amounts in {CURRENCY_NAMES.get(currency, currency)}" if currency else ""
    return (
        _jinja_env(jinja_env)
        .get_template(TEMPLATE)
        .render(
            meta=meta,
            generated=generated,
            currency_note=currency_note,
            rows_written=rows_written,
        )
    )


def _jinja_env(given: Any | None):
    if given is not None:
        return given
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.jinja_env
    return _standalone_jinja_env()


@functools.cache
def _standalone_jinja_env():
    """Outside an app (a script, the benchmark's floor): the same templates, autoescaped."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]))


_fonts_lock = threading.Lock()
_fonts_registered = False


class PdfFontError(RuntimeError):
    """No folder holds the DejaVu Sans pair."""


def font_dir_setting() -> str:
    """PDF_FONT_DIR from the app's configuration (or the environment, outside an app)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config.get("PDF_FONT_DIR") or ""
    return os.environ.get("PDF_FONT_DIR", "")


def font_files(setting: str = "", system_dir: Path = SYSTEM_FONT_DIR) -> tuple[Path, Path]:
    """The regular and bold DejaVu Sans files: from `setting` (PDF_FONT_DIR) when it holds both,
    else the copy shipped in dashboard/exports/fonts/, else Debian's folder."""
    candidates = [Path(setting)] if setting else []
    candidates += [BUNDLED_FONT_DIR, system_dir]
    for folder in candidates:
        regular, bold = (folder / name for name in FONT_FILES)
        if regular.is_file() and bold.is_file():
            return regular, bold
    searched = ", ".join(str(c) for c in candidates)
    raise PdfFontError(f"The PDF font (DejaVu Sans: {', '.join(FONT_FILES)}) was not found in {searched}.")


def _register_fonts() -> None:
    """DejaVu Sans and its bold, once per process, as one family (xhtml2pdf's <b> finds the bold)."""
    global _fonts_registered
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _fonts_lock:
        if _fonts_registered:
            return
        regular, bold = font_files(font_dir_setting())
        # asciiReadable: FontInDocument's fast path relies on ASCII keeping its own codes.
        pdfmetrics.registerFont(TTFont(FONT, str(regular), asciiReadable=1))
        pdfmetrics.registerFont(TTFont(FONT_BOLD_NAME, str(bold), asciiReadable=1))
        pdfmetrics.registerFontFamily(
            FONT, normal=FONT, bold=FONT_BOLD_NAME, italic=FONT, boldItalic=FONT_BOLD_NAME
        )
        _fonts_registered = True


def header_flowables(html: str) -> list:
    """The header block's HTML as platypus flowables, through xhtml2pdf."""
    from xhtml2pdf.config.resources import ResourceAccessPolicy
    from xhtml2pdf.context import pisaContext
    from xhtml2pdf.document import pisaStory

    _register_fonts()
    context = pisaContext("")
    # The template names "DejaVu Sans": use the fonts registered above (embedded once, shared with
    # the table) rather than loading the TTF again through @font-face for every file.
    context.registerFont(FONT, alias=["dejavu sans", "dejavusans"])
    # Nothing to fetch: no local file, no network, whatever the template or the data say.
    policy = ResourceAccessPolicy(base_dir=None, extra_roots=(), allow_remote=False)
    context = pisaStory(html, context=context, resource_policy=policy)
    if context.err:
        raise PdfRenderError(f"The PDF could not be built ({context.err} error(s) from xhtml2pdf).")
    return list(context.story)


# ---- the table: rows prepared as lines and heights, drawn as PDF operators ----------------------


class FontInDocument:
    """One TrueType font in one document: text widths and the PDF operators that show a line.

    Printable ASCII takes a fast path: reportlab's "ASCII readable" subsetting gives those
    characters their own codes in the font's first subset, so a line of ASCII is its own PDF
    string, and its width is a sum over a table. Other text goes through reportlab's subsetting
    (`splitString`), cached per text (names and statuses repeat).
    """

    def __init__(self, font: Any, doc: Any):
        self.font, self.doc = font, doc  # font subsets are numbered per document
        face, scale = font.face, FONT_SIZE / 1000
        self.ascii_widths = [face.charWidths.get(i, face.defaultWidth) * scale for i in range(128)]
        self.ascii_font = f"{font.getSubsetInternalName(0, doc)} {FONT_SIZE} Tf"
        self._widths: dict[str, float] = {}
        self._ops: dict[str, str] = {}

    def width(self, text: str) -> float:
        if text.isascii():
            return sum(map(self.ascii_widths.__getitem__, text.encode("ascii")))
        width = self._widths.get(text)
        if width is None:
            width = self.font.stringWidth(text, FONT_SIZE)
            if len(self._widths) >= CACHE_ENTRIES:
                self._widths.clear()  # bounded: unique texts would fill it for nothing
            self._widths[text] = width
        return width

    def ops(self, text: str) -> str:
        """Operators that select the font (subsets) and show `text` at the current position."""
        if text.isascii() and text.isprintable():
            return f"{self.ascii_font} ({text.translate(PDF_STRING_ESCAPES)}) Tj"
        ops = self._ops.get(text)
        if ops is None:
            font, doc = self.font, self.doc
            ops = " ".join(
                f"{font.getSubsetInternalName(subset, doc)} {FONT_SIZE} Tf "
                f"({data.decode('latin-1').translate(PDF_STRING_ESCAPES)}) Tj"
                for subset, data in font.splitString(text, doc)
            )
            if len(self._ops) >= CACHE_ENTRIES:
                self._ops.clear()
            self._ops[text] = ops
        return ops


class TableLayout:
    """Column geometry, and rows turned into wrapped lines and heights."""

    def __init__(self, columns: Sequence, doc: Any):
        from reportlab.pdfbase import pdfmetrics

        self.regular = FontInDocument(pdfmetrics.getFont(FONT), doc)
        self.bold = FontInDocument(pdfmetrics.getFont(FONT_BOLD_NAME), doc)
        # Widths in proportion to the columns' own, but wide enough for every word of the header
        # ("transactions" is not cut in two).
        needed = [
            max(self.bold.width(word) for word in (c.header.split() or [""])) + 2 * PAD_X + 0.5
            for c in columns
        ]
        self.widths = column_widths([c.width for c in columns], needed, FRAME_WIDTH)
        self.lefts = [sum(self.widths[:i]) for i in range(len(columns))]
        self.inner = [w - 2 * PAD_X for w in self.widths]
        self.right_aligned = [c.kind in ("int", "money") for c in columns]

    def prepare(
        self, texts: Sequence[str], bold: bool, spans: Sequence[float] | None = None
    ) -> tuple[float, list[list[str]]]:
        """A row as (height, lines per cell)."""
        measure = (self.bold if bold else self.regular).width
        inner = spans or self.inner
        # Most cells are one printable line that fits: no wrapping to do.
        cells = [
            ([t] if t.isprintable() and measure(t) <= w else wrap_text(t, w, measure)) if t else []
            for t, w in zip(texts, inner, strict=True)
        ]
        lines = max((len(c) for c in cells), default=1) or 1
        return (lines * LEADING + PAD_TOP + PAD_BOTTOM, cells)


# A PDF literal string: backslash and parentheses escaped, everything outside printable ASCII as
# an octal escape (the content stream stays ASCII).
PDF_STRING_ESCAPES = {i: f"\\{i:03o}" for i in range(256) if not 32 <= i < 127}
PDF_STRING_ESCAPES.update({ord("\\"): "\\\\", ord("("): "\\(", ord(")"): "\\)"})


@functools.cache
def _platypus():
    """reportlab's classes, imported on first use: ~0.5 s of start-up that a web worker or a CLI
    command that never renders a PDF should not pay."""
    from reportlab import rl_config
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import BaseDocTemplate, Flowable, Frame, FrameBreak, PageTemplate

    # reportlab wraps compressed streams in ASCII85, in pure Python here (no rl_accel): binary
    # streams are valid PDF, smaller, and save a second per thousand pages.
    rl_config.useA85 = 0
    FLATE = PDFDictionary({"Filter": PDFArray([PDFName("FlateDecode")])})

    class RowBlock(Flowable):
        """Consecutive table rows. Starting a page (or the table) it draws the header row first;
        continuing the previous block on the same page it does not. Split at page ends, each
        part repeats the header row on its new page."""

        def __init__(self, layout: TableLayout, header, rows: list, first: bool):
            super().__init__()
            self.layout, self.header, self.rows, self.first = layout, header, rows, first
            self.rows_height = sum(r[0] for r in rows)
            self.width = FRAME_WIDTH
            self.with_header = first

        def _header_for(self, avail_height: float) -> bool:
            # A full frame's height means "at the top of a page" (every row is taller than 1 pt).
            return self.first or avail_height >= FRAME_HEIGHT - 1.0

        def wrap(self, avail_width, avail_height):
            self.with_header = self._header_for(avail_height)
            self.height = self.rows_height + (self.header[0] if self.with_header else 0)
            return self.width, self.height

        def split(self, avail_width, avail_height):
            room = avail_height - (self.header[0] if self._header_for(avail_height) else 0)
            used, count = 0.0, 0
            for row in self.rows:
                if used + row[0] > room + 1e-6:
                    break
                used += row[0]
                count += 1
            # The totals row never stands alone at the top of a page: one row goes with it, and
            # the page ends there (the two would otherwise fit in the space left).
            keep = count == len(self.rows) - 1 and self.rows[-1][2] == TOTALS and count > 1
            if keep:
                count -= 1
            if count == 0 or count == len(self.rows):
                return []
            head = RowBlock(self.layout, self.header, self.rows[:count], self.first)
            rest = RowBlock(self.layout, self.header, self.rows[count:], False)
            return [head, FrameBreak(), rest] if keep else [head, rest]

        def draw(self):
            layout = self.layout
            top = self.height
            fills, rules, text = [], [], [f"BT {INK} rg"]
            rows = [(self.header[0], self.header[1], HEADER)] if self.with_header else []
            rows += self.rows
            for height, cells, kind in rows:
                bottom = top - height
                if kind == HEADER:
                    fills.append(f"{HEAD_FILL} rg 0 {bottom:.2f} {self.width:.2f} {height:.2f} re f")
                    rules.append(f"0.6 w 0 {bottom:.2f} m {self.width:.2f} {bottom:.2f} l S")
                elif kind == ODD:
                    fills.append(f"{ZEBRA_FILL} rg 0 {bottom:.2f} {self.width:.2f} {height:.2f} re f")
                elif kind == TOTALS:
                    rules.append(f"0.6 w 0 {top:.2f} m {self.width:.2f} {top:.2f} l S")
                font = layout.bold if kind in (HEADER, TOTALS) else layout.regular
                most = max(map(len, cells))
                for column, lines in enumerate(cells):
                    if not lines:
                        continue
                    y = top - BASELINE
                    if kind == HEADER:  # header cells sit on the rule below them
                        y -= (most - len(lines)) * LEADING
                    right = layout.right_aligned[column]
                    for line in lines:
                        if line:
                            if right:
                                x = layout.lefts[column] + layout.widths[column] - PAD_X - font.width(line)
                            else:
                                x = layout.lefts[column] + PAD_X
                            text.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm {font.ops(line)}")
                        y -= LEADING
                top = bottom
            text.append("ET")
            self.canv.addLiteral(
                "q\n"
                + "\n".join(fills)
                + f"\n{RULE} RG\n"
                + "\n".join(rules)
                + "\n"
                + "\n".join(text)
                + "\nQ"
            )

    class Story(list):
        """The document's flowables for platypus's build loop, refilled from `more` whenever the
        loop has used them up: one block of rows is in memory at a time, not the whole table."""

        def __init__(self, head: list, more: Iterator):
            super().__init__(head)
            self.more = more

        def __len__(self):
            if not list.__len__(self):
                block = next(self.more, None)
                if block is not None:
                    self.append(block)
            return list.__len__(self)

    class PageCountCanvas(Canvas):
        """Each page shows "Page X of " and a form, drawn once at the end with the page count.

        Each finished page's content is compressed at once: reportlab keeps it as text until
        `save`, some 25 KB a page (a 50,000-row PDF held ~40 MB more)."""

        def showPage(self):
            super().showPage()
            page = self._doc.Pages.pages[-1]
            stream = getattr(page, "stream", None)
            if stream and not page.Contents:
                data = stream.encode("utf-8") if isinstance(stream, str) else stream
                # One dictionary for every page: PDFStream.format copies it before adding /Length.
                page.Contents = PDFStream(FLATE, zlib.compress(data))
                page.stream = None

        def save(self):
            self.beginForm(PAGE_COUNT_FORM, lowery=-3)
            self.setFont(FONT, FOOTER_SIZE)
            self.setFillColorRGB(*(float(v) for v in FOOTER_INK.split()))
            self.drawString(0, 0, f"{self.getPageNumber() - 1:,}")
            self.endForm()
            super().save()

    return RowBlock, Story, PageCountCanvas, BaseDocTemplate, Frame, PageTemplate


def fit_text(text: str, width: float) -> str:
    """`text` in the footer's font, cut with "…" to fit `width`."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, FONT, FOOTER_SIZE) <= width:
        return text
    while text and stringWidth(text + "…", FONT, FOOTER_SIZE) > width:
        text = text[: max(0, min(len(text) - 1, int(len(text) * 0.9)))]
    return text + "…"


def _prepare_totals(layout: TableLayout, totals: Sequence[str]) -> tuple[float, list[list[str]]]:
    """The totals row: its label ("Total: 1,234 sales") spans the empty cells after it."""
    span = 1
    while span < len(totals) and not totals[span]:
        span += 1
    widths = list(layout.inner)
    widths[0] = sum(layout.widths[:span]) - 2 * PAD_X
    return layout.prepare(totals, bold=True, spans=widths)


def render_pdf(
    path: Path,
    meta: ExportMeta,
    rows: Iterable[Sequence[str]],
    totals: Sequence[str] | None,
    *,
    row_count: int | None = None,
) -> None:
    """Render formatted rows (strings, in column order) and the header block into a PDF at `path`.

    `rows` may be any iterable (the writer streams them from its spool); `row_count` is how many
    it yields (default `len(rows)`), shown in the header block before the rows are read.
    """
    RowBlock, Story, PageCountCanvas, BaseDocTemplate, Frame, PageTemplate = _platypus()
    _register_fonts()
    if row_count is None:
        row_count = len(rows)  # type: ignore[arg-type]
    head = header_flowables(render_header_html(meta, row_count))
    footer_left = fit_text(
        f"{meta.business_name} · {meta.title} export · {meta.generated_at:%d %b %Y %H:%M %Z}",
        FRAME_WIDTH - PAGE_NUMBER_WIDTH - 10,
    )

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, FOOTER_SIZE)
        canvas.setFillColorRGB(*(float(v) for v in FOOTER_INK.split()))
        canvas.drawString(MARGIN_X, FOOTER_Y, footer_left)
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
        layout = TableLayout(meta.columns, doc.canv._doc)
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
            block.append((*_prepare_totals(layout, totals), TOTALS))
        if block:
            yield RowBlock(layout, header, block, first)

    story = Story(head, blocks() if row_count else iter(()))
    doc.build(story, canvasmaker=PageCountCanvas)


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
        # Formatted rows wait on disk (an anonymous file, gone when closed) until the header,
        # which states the counts, can be rendered: memory stays flat however many rows come.
        self.spool = tempfile.TemporaryFile(prefix="pdf_rows_", dir=path.parent)

    def write_rows(self, rows: list[tuple]) -> None:
        self.totals.add(rows)
        kinds = self.kinds
        marshal.dump(
            [[format_cell(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows], self.spool
        )
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
            render_pdf(self.path, self.meta, self._spooled_rows(), totals, row_count=self.rows_written)
        finally:
            self.spool.close()

    def abort(self) -> None:
        self.spool.close()
