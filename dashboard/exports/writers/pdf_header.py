"""The PDF's header block, `templates/pdf/export.html`, rendered by Jinja and laid out by xhtml2pdf.

Business name, export type, period or filters, generation time in the business's timezone, the
record count, the totals (page 1 says them as well as the table's end), the "first N of M" notice,
"no records". Every value is escaped by Jinja: markup in data shows as text; `script` marks the
runs DejaVu Sans lacks for the CJK fallback (pdf_fonts.script_markup).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dashboard.core.display import datetime_display
from dashboard.exports.comparison import display_change, display_value
from dashboard.exports.writers import ExportMeta
from dashboard.exports.writers.pdf_fonts import FALLBACK_FONT, FONT, _fallback, register_fonts, script_markup

TEMPLATE = "pdf/export.html"
TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "templates"
CURRENCY_NAMES = {"USD": "US dollars", "GBP": "pounds sterling", "EUR": "euros"}


class PdfRenderError(RuntimeError):
    """xhtml2pdf reported errors while building the header block."""


def render_header_html(
    meta: ExportMeta,
    rows_written: int,
    *,
    totals: Sequence[tuple[str, str]] = (),
    jinja_env: Any | None = None,
) -> str:
    """The header block's HTML. `totals`: (column header, formatted sum) pairs for page 1."""
    generated = datetime_display(meta.generated_at)
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
            totals=list(totals),
            summary=meta.extra.get("summary"),
            script=script_markup,
            figure_value=display_value,
            figure_change=display_change,
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


def header_flowables(html: str) -> list:
    """The header block's HTML as platypus flowables, through xhtml2pdf."""
    from xhtml2pdf.config.resources import ResourceAccessPolicy
    from xhtml2pdf.context import pisaContext
    from xhtml2pdf.document import pisaStory

    register_fonts()
    context = pisaContext("")
    # The template names "DejaVu Sans": use the fonts registered above (embedded once, shared with
    # the table) rather than loading the TTF again through @font-face for every file.
    context.registerFont(FONT, alias=["dejavu sans", "dejavusans"])
    if _fallback.get("font") is not None:  # loaded: some text in this process needed it
        context.registerFont(FALLBACK_FONT, alias=[FALLBACK_FONT.lower()])
    # Nothing to fetch: no local file, no network, whatever the template or the data say.
    policy = ResourceAccessPolicy(base_dir=None, extra_roots=(), allow_remote=False)
    context = pisaStory(html, context=context, resource_policy=policy)
    if context.err:
        raise PdfRenderError(f"The PDF could not be built ({context.err} error(s) from xhtml2pdf).")
    return list(context.story)
