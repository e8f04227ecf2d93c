"""The PDF table's geometry: cell texts, wrapping, column widths, the table font's size.

Pure where it can be (a width function in, lines out), so the rules are tested without a PDF.
No amount or date ever wraps: a column of numbers or dates is at least as wide as its widest
formatted value (the totals row's included) and the header's longest word; when the page is too
narrow for them all, the table's font gets smaller (down to MIN_FONT_SIZE) rather than wrap them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from dashboard.exports.writers.pdf_fonts import FONT, FONT_BOLD_NAME, FontInDocument

# Landscape A4, in points.
PAGE_WIDTH, PAGE_HEIGHT = 841.89, 595.28
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 28.35, 34.0, 42.5
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
FRAME_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
FOOTER_Y, FOOTER_SIZE = 22.0, 7.0
PAGE_NUMBER_WIDTH = 90.0  # "Page 1,250 of 1,250" at the footer's size, with room to spare
FONT_SIZE, MIN_FONT_SIZE, LEADING_RATIO = 7.5, 5.0, 9.2 / 7.5
PAD_X, PAD_TOP, PAD_BOTTOM = 2.5, 2.2, 1.6
# No row may be taller than a page: a cell shows at most this many wrapped lines.
MAX_CELL_LINES = 24
# Columns whose values never wrap.
UNBROKEN_KINDS = frozenset({"int", "money", "datetime", "date", "bool"})

Measure = Callable[[str], float]  # a text's width in points


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


def table_font_size(unit_needs: Sequence[float], total: float) -> float:
    """The largest size (at most FONT_SIZE, in quarter points) at which columns needing
    `unit_needs[i] * size + 2 * PAD_X + 0.5` points each fit in `total`; MIN_FONT_SIZE at least."""
    padding = len(unit_needs) * (2 * PAD_X + 0.5)
    per_point = sum(unit_needs)
    if per_point <= 0:
        return FONT_SIZE
    size = (total - padding) / per_point
    return max(MIN_FONT_SIZE, min(FONT_SIZE, int(size * 4) / 4))


class TableLayout:
    """Column geometry and font size, and rows turned into wrapped lines and heights.

    `widest[i]`: the widest formatted value of column i (the writer tracks it while spooling), for
    the columns whose values never wrap.
    """

    def __init__(self, columns: Sequence, doc: Any, widest: Sequence[str] | None = None):
        from reportlab.pdfbase import pdfmetrics

        regular, bold = pdfmetrics.getFont(FONT), pdfmetrics.getFont(FONT_BOLD_NAME)
        widest = list(widest or [""] * len(columns))
        # What each column needs at a 1-point font: its header's longest word (bold; "transactions"
        # is not cut in two) and, for numbers and dates, its widest value (bold: the totals row).
        unit = FontInDocument(bold, doc, 1.0)
        unit_regular = FontInDocument(regular, doc, 1.0)
        needs = []
        for column, value in zip(columns, widest, strict=True):
            need = max(unit.width(word) for word in (column.header.split() or [""]))
            if column.kind in UNBROKEN_KINDS and value:
                need = max(need, unit.width(value), unit_regular.width(value))
            needs.append(need)
        self.size = table_font_size(needs, FRAME_WIDTH)
        self.leading = self.size * LEADING_RATIO
        self.baseline = PAD_TOP + 0.78 * self.size  # from a row's top to its first line's baseline
        self.regular = FontInDocument(regular, doc, self.size)
        self.bold = FontInDocument(bold, doc, self.size)
        minimums = [need * self.size + 2 * PAD_X + 0.5 for need in needs]
        self.widths = column_widths([c.width for c in columns], minimums, FRAME_WIDTH)
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
        return (lines * self.leading + PAD_TOP + PAD_BOTTOM, cells)

    def prepare_totals(self, totals: Sequence[str]) -> tuple[float, list[list[str]]]:
        """The totals row: its label ("Total: 1,234 sales") spans the empty cells after it."""
        span = 1
        while span < len(totals) and not totals[span]:
            span += 1
        widths = list(self.inner)
        widths[0] = sum(self.widths[:span]) - 2 * PAD_X
        return self.prepare(totals, bold=True, spans=widths)


def fit_text(text: str, width: float, measure: Measure) -> str:
    """`text` cut with "…" to fit `width` (by `measure`)."""
    if measure(text) <= width:
        return text
    while text and measure(text + "…") > width:
        text = text[: max(0, min(len(text) - 1, int(len(text) * 0.9)))]
    return text + "…"
