"""Each private API the code relies on (docs/dependencies.md), checked for the shape we use.

An upgrade that changes one of them fails here, naming the dependency and its installed version,
instead of breaking exports, mail or API sign-in silently. One test per item of the document.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb

DOC = Path(__file__).resolve().parents[2] / "docs" / "dependencies.md"


def require(dist: str, condition: bool, what: str) -> None:
    """Fail with the dependency's name and version (and where the use is documented)."""
    if not condition:
        pytest.fail(
            f"{dist} {version(dist)}: {what} is no longer as the code expects; "
            "see docs/dependencies.md (private APIs) before upgrading",
            pytrace=False,
        )


def test_openpyxl_write_only_rows_go_through_values_to_row(tmp_path):
    from openpyxl import Workbook, load_workbook
    from openpyxl.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    require("openpyxl", hasattr(WriteOnlyWorksheet, "_values_to_row"), "WriteOnlyWorksheet._values_to_row")
    params = list(inspect.signature(WriteOnlyWorksheet._values_to_row).parameters)
    require("openpyxl", params == ["self", "values", "row_idx"], f"_values_to_row{tuple(params)}")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("t")
    seen = []

    def through(values, row_idx):
        seen.append(row_idx)
        for cell in values:
            cell.row = row_idx
            yield cell

    ws._values_to_row = through  # what ExcelWriter does
    cell = Cell(ws, row=1, column=1)
    cell._value, cell.data_type = 42, "n"  # ExcelWriter sets values without the type check
    ws.append([cell])
    require("openpyxl", hasattr(ws, "_writer"), "WriteOnlyWorksheet._writer (abort's cleanup)")
    wb.save(tmp_path / "t.xlsx")
    require("openpyxl", seen == [1], "append() calling the instance's _values_to_row")
    value = load_workbook(tmp_path / "t.xlsx").active["A1"].value
    require("openpyxl", value == 42, f"Cell._value/data_type written as set (read back {value!r})")


def test_xhtml2pdf_pisa_story_and_context():
    from xhtml2pdf.context import pisaContext
    from xhtml2pdf.document import pisaStory

    require(
        "xhtml2pdf",
        "resource_policy" in inspect.signature(pisaStory).parameters,
        "pisaStory(resource_policy=)",
    )
    context = pisaContext("")
    require("xhtml2pdf", callable(getattr(context, "registerFont", None)), "pisaContext.registerFont")
    context = pisaStory("<p>Hello <b>world</b></p>", context=context)
    require("xhtml2pdf", isinstance(context, pisaContext), "pisaStory returning its pisaContext")
    require("xhtml2pdf", context.err == 0, "pisaContext.err (an error count)")
    story = list(context.story)
    require("xhtml2pdf", bool(story) and all(hasattr(f, "wrap") for f in story), "pisaContext.story")


def test_flask_mail_message_is_built_by_message_underscore_message():
    from flask import Flask
    from flask_mail import Mail

    from dashboard.delivery.mailer import OutgoingMessage

    require("Flask-Mail", callable(getattr(OutgoingMessage.__mro__[1], "_message", None)), "Message._message")
    app = Flask(__name__)
    app.config.update(MAIL_DEFAULT_SENDER="exports@example.com", MAIL_SUPPRESS_SEND=True)
    Mail(app)
    calls = []

    class Probe(OutgoingMessage):
        def _message(self):
            calls.append(1)
            return super()._message()

    with app.app_context():
        name = "Zoë Ångström-Núñez, Café Zoë & Co, Łódź Export Automation Notifications"
        message = Probe(subject="Sales", recipients=["a@example.com"], body="x")
        message.sender = f"{name} <exports@example.com>"
        data = message.as_bytes()
    require("Flask-Mail", calls != [], "as_bytes() building the message through _message()")
    require("Flask-Mail", b"exports@example.com>" in data, "the From header our _message rewrites")


def test_flask_login_current_user_comes_from_g_login_user():
    import flask_login
    from flask import Flask, g
    from flask_login import LoginManager, UserMixin, current_user

    app = Flask(__name__)
    app.secret_key = "x"
    manager = LoginManager(app)
    manager.user_loader(lambda user_id: None)

    class Someone(UserMixin):
        id = "token-user"

    with app.test_request_context("/"):
        g._login_user = Someone()  # what the API does for a Bearer token
        require("Flask-Login", current_user.get_id() == "token-user", "current_user read from g._login_user")
    with app.test_request_context("/"):
        require("Flask-Login", not current_user.is_authenticated, "g._login_user unset per request")
    require("Flask-Login", "_login_user" in inspect.getsource(flask_login.utils._get_user), "utils._get_user")


def test_reportlab_internals_of_the_pdf_table():
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream
    from reportlab.pdfgen.canvas import Canvas

    from dashboard.exports.writers.pdf_fonts import FONT, _register_fonts

    require("reportlab", hasattr(rl_config, "useA85"), "rl_config.useA85")
    _register_fonts()  # TTFont(..., asciiReadable=1)
    font = pdfmetrics.getFont(FONT)
    face = font.face
    require("reportlab", isinstance(face.charWidths, dict), "TTFontFace.charWidths")
    require("reportlab", isinstance(face.defaultWidth, int | float), "TTFontFace.defaultWidth")
    canvas = Canvas(None)
    doc = canvas._doc
    require("reportlab", hasattr(doc, "Pages") and hasattr(doc.Pages, "pages"), "Canvas._doc.Pages.pages")
    name = font.getSubsetInternalName(0, doc)
    require("reportlab", isinstance(name, str) and name.startswith("/F"), "TTFont.getSubsetInternalName")
    parts = font.splitString("Aé Ж", doc)
    require(
        "reportlab",
        bool(parts) and all(isinstance(s, int) and isinstance(b, bytes) for s, b in parts),
        "TTFont.splitString -> [(subset, bytes)]",
    )
    require("reportlab", parts[0][1][:1] == b"A", "asciiReadable: ASCII keeps its own codes in subset 0")
    canvas.addLiteral("0 0 m")
    canvas.showPage()
    page = doc.Pages.pages[-1]
    require("reportlab", hasattr(page, "stream") and hasattr(page, "Contents"), "PDFPage.stream/Contents")
    stream = PDFStream(PDFDictionary({"Filter": PDFArray([PDFName("FlateDecode")])}), b"x")
    require("reportlab", stream.content == b"x", "PDFStream(dictionary, content)")


def test_limits_memory_storage_schedules_expiry_through_a_mangled_private_method():
    from limits.storage import MemoryStorage

    for name in ("_MemoryStorage__schedule_expiry", "_MemoryStorage__expire_events"):
        require("limits", callable(getattr(MemoryStorage, name, None)), f"MemoryStorage.{name}")
    for method in ("incr", "acquire_entry"):
        source = inspect.getsource(getattr(MemoryStorage, method))
        require("limits", "self.__schedule_expiry()" in source, f"MemoryStorage.{method} scheduling expiry")


def test_every_test_here_is_in_the_document():
    text = DOC.read_text()
    for needle in (
        "_values_to_row",
        "pisaStory",
        "pisaContext",
        "Message._message",
        "g._login_user",
        "getSubsetInternalName",
        "splitString",
        "Pages.pages",
        "useA85",
        "_MemoryStorage__schedule_expiry",
    ):
        assert needle in text, needle
