"""The PDF table drawn by platypus: blocks of rows, the story that streams them, the page counter.

Why not the table in xhtml2pdf, or in platypus's own Table: xhtml2pdf lays out about 110 rows/s
at best (one <table> per 200 rows; one long table is superlinear), and platypus's Table draws
each cell through reportlab's text objects, about 1,000 rows/s without the rl_accel C extension.
A RowBlock knows its rows' lines and heights (pdf_layout.TableLayout) and writes each cell as a
few PDF operators: the whole export runs at 5,000-8,000 rows/s, linearly.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterator

from dashboard.exports.writers.pdf_fonts import FONT
from dashboard.exports.writers.pdf_layout import FOOTER_SIZE, FRAME_HEIGHT, FRAME_WIDTH, PAD_X, TableLayout

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


@functools.cache
def platypus_classes():
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
                    y = top - layout.baseline
                    if kind == HEADER:  # header cells sit on the rule below them
                        y -= (most - len(lines)) * layout.leading
                    right = layout.right_aligned[column]
                    for line in lines:
                        if line:
                            if right:
                                x = layout.lefts[column] + layout.widths[column] - PAD_X - font.width(line)
                            else:
                                x = layout.lefts[column] + PAD_X
                            text.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm {font.ops(line)}")
                        y -= layout.leading
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
