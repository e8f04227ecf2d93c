"""Fonts of the PDF export, and text turned into PDF operators with a per-character fallback.

DejaVu Sans (bundled, see dashboard/exports/fonts/README.md) covers Latin, Greek and Cyrillic. A
character it lacks is drawn with the CJK fallback, WenQuanYi Zen Hei (Debian's `fonts-wqy-zenhei`,
installed by `.ci/run` and the deployment; GPL-2 with the font embedding exception, so it is
embedded as a subset but not shipped in this repository), found in PDF_FONT_DIR or Debian's folder.
A character neither font holds (emoji, or CJK where the fallback is not installed) is drawn as
REPLACEMENT, always the same box, inside an /ActualText span that carries the original text: the
page shows a box, copying or pdftotext gives the right character.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

BUNDLED_FONT_DIR = Path(__file__).resolve().parents[1] / "fonts"
SYSTEM_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
FONT = "DejaVuSans"  # reportlab names; the template's "DejaVu Sans" maps to them
FONT_BOLD_NAME = "DejaVuSans-Bold"
FALLBACK_FONT = "WenQuanYiZenHei"  # the template's name for it, too
FALLBACK_FILE = "wqy-zenhei.ttc"
FALLBACK_SYSTEM_DIR = Path("/usr/share/fonts/truetype/wqy")
REPLACEMENT = "□"  # U+25A1, in DejaVu Sans
# Characters that shape the one before them (joiners, variation selectors, skin tones, keycaps,
# tags): part of the previous character's box, never a box of their own.
COMBINING_EMOJI = frozenset(
    [0x200D, 0xFE0E, 0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)]
)
# Repeated texts (names, statuses, amounts) are measured and encoded once per document, up to here.
CACHE_ENTRIES = 10_000
# A PDF literal string: backslash and parentheses escaped, everything outside printable ASCII as
# an octal escape (the content stream stays ASCII).
PDF_STRING_ESCAPES = {i: f"\\{i:03o}" for i in range(256) if not 32 <= i < 127}
PDF_STRING_ESCAPES.update({ord("\\"): "\\\\", ord("("): "\\(", ord(")"): "\\)"})

# Kinds of runs a text is split into.
PRIMARY, FALLBACK, MISSING = "primary", "fallback", "missing"

_fonts_lock = threading.Lock()
_fonts_registered = False
_fallback: dict[str, Any] = {}  # "font": the registered TTFont, or None once known to be absent


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


def fallback_file(setting: str = "", system_dir: Path = FALLBACK_SYSTEM_DIR) -> Path | None:
    """The CJK fallback font: in PDF_FONT_DIR, else Debian's folder; None when neither has it."""
    for folder in ([Path(setting)] if setting else []) + [system_dir]:
        if (folder / FALLBACK_FILE).is_file():
            return folder / FALLBACK_FILE
    return None


def register_fonts() -> None:
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


_register_fonts = register_fonts  # the name tests/ecosystem/test_private_apis.py knows


def fallback_font() -> Any | None:
    """The CJK fallback as a registered TTFont, loaded on first need (0.4 s, 16 MB file: a
    Latin-only export never pays); None when it is not installed."""
    with _fonts_lock:
        if "font" not in _fallback:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            path = fallback_file(font_dir_setting())
            font = None
            if path is not None:
                font = TTFont(FALLBACK_FONT, str(path), subfontIndex=0, asciiReadable=1)
                pdfmetrics.registerFont(font)
            _fallback["font"] = font
        return _fallback["font"]


def split_runs(text: str, primary: Any) -> list[tuple[str, str]]:
    """`text` as [(kind, part)]: PRIMARY runs DejaVu Sans draws, FALLBACK runs the CJK font draws,
    MISSING runs neither does (each shown as REPLACEMENT boxes)."""
    covered = primary.face.charToGlyph
    fallback: Any | None = None
    runs: list[tuple[str, str]] = []
    for char in text:
        code = ord(char)
        if code in covered and code not in COMBINING_EMOJI:
            kind = PRIMARY
        elif code in COMBINING_EMOJI and runs and runs[-1][0] == MISSING:
            kind = MISSING
        else:
            if fallback is None:
                fallback = fallback_font() or False
            kind = FALLBACK if fallback and code in fallback.face.charToGlyph else MISSING
            if kind == MISSING and code in COMBINING_EMOJI and code in covered:
                kind = PRIMARY  # a joiner on its own: DejaVu's zero-width glyph
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1] + char)
        else:
            runs.append((kind, char))
    return runs


def shown_missing(part: str) -> str:
    """The boxes a MISSING run shows: one per character, none for a combining one nor for one
    joined to the previous (a family emoji, three people joined by U+200D, is one box)."""
    boxes, joined = 0, False
    for char in part:
        code = ord(char)
        if code not in COMBINING_EMOJI and not joined:
            boxes += 1
        joined = code == 0x200D
    return REPLACEMENT * boxes


def actual_text(part: str) -> str:
    """`part` as a PDF text string (UTF-16BE with its BOM, in hex) for /ActualText."""
    return "<FEFF" + part.encode("utf-16-be").hex().upper() + ">"


class FontInDocument:
    """One TrueType font in one document at one size: text widths and the PDF operators that show
    a line, falling back per character (see the module docstring).

    Printable ASCII takes a fast path: reportlab's "ASCII readable" subsetting gives those
    characters their own codes in the font's first subset, so a line of ASCII is its own PDF
    string, and its width is a sum over a table. Other text goes through reportlab's subsetting
    (`splitString`), cached per text (names and statuses repeat).
    """

    def __init__(self, font: Any, doc: Any, size: float):
        self.font, self.doc, self.size = font, doc, size  # font subsets are numbered per document
        face, scale = font.face, size / 1000
        self.ascii_widths = [face.charWidths.get(i, face.defaultWidth) * scale for i in range(128)]
        self.ascii_font = f"{font.getSubsetInternalName(0, doc)} {size} Tf"
        self._widths: dict[str, float] = {}
        self._ops: dict[str, str] = {}

    def width(self, text: str) -> float:
        if text.isascii():
            return sum(map(self.ascii_widths.__getitem__, text.encode("ascii")))
        width = self._widths.get(text)
        if width is None:
            width = 0.0
            for kind, part in split_runs(text, self.font):
                if kind == PRIMARY:
                    width += self.font.stringWidth(part, self.size)
                elif kind == FALLBACK:
                    width += fallback_font().stringWidth(part, self.size)
                else:
                    width += self.font.stringWidth(shown_missing(part), self.size)
            if len(self._widths) >= CACHE_ENTRIES:
                self._widths.clear()  # bounded: unique texts would fill it for nothing
            self._widths[text] = width
        return width

    def _show(self, font: Any, text: str) -> str:
        doc, size = self.doc, self.size
        return " ".join(
            f"{font.getSubsetInternalName(subset, doc)} {size} Tf "
            f"({data.decode('latin-1').translate(PDF_STRING_ESCAPES)}) Tj"
            for subset, data in font.splitString(text, doc)
        )

    def ops(self, text: str) -> str:
        """Operators that select the font (subsets) and show `text` at the current position."""
        if text.isascii() and text.isprintable():
            return f"{self.ascii_font} ({text.translate(PDF_STRING_ESCAPES)}) Tj"
        ops = self._ops.get(text)
        if ops is None:
            parts = []
            for kind, part in split_runs(text, self.font):
                if kind == PRIMARY:
                    parts.append(self._show(self.font, part))
                elif kind == FALLBACK:
                    parts.append(self._show(fallback_font(), part))
                else:
                    shown = self._show(self.font, shown_missing(part))
                    parts.append(f"/Span <</ActualText {actual_text(part)}>> BDC {shown} EMC")
            ops = " ".join(parts)
            if len(self._ops) >= CACHE_ENTRIES:
                self._ops.clear()
            self._ops[text] = ops
        return ops


def script_markup(text: str | None) -> str:
    """HTML for xhtml2pdf (the header block): `text` escaped, runs DejaVu Sans lacks in the CJK
    fallback's family, characters no font holds as REPLACEMENT."""
    from markupsafe import Markup, escape
    from reportlab.pdfbase import pdfmetrics

    if not text:
        return Markup("")
    register_fonts()
    if text.isascii():
        return escape(text)
    out = []
    for kind, part in split_runs(text, pdfmetrics.getFont(FONT)):
        if kind == PRIMARY:
            out.append(str(escape(part)))
        elif kind == FALLBACK:
            out.append(f'<span style="font-family: {FALLBACK_FONT}">{escape(part)}</span>')
        else:
            out.append(shown_missing(part))
    return Markup("".join(out))
