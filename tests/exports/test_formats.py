"""All twelve exporters, each file read back by a different program: the csv module, openpyxl, pdftotext.

Checked: headers, row counts, a known row's values, totals, accents, and the formula guard.
"""

from __future__ import annotations

import zipfile
from datetime import datetime
from decimal import Decimal

import pytest

from dashboard.exports.service import generate_export
from tests.exports.conftest import (
    ALL_PERIOD,
    FORMULA_NAME,
    LONG_TEXT,
    data_sheet,
    read_csv,
    read_pdf,
    read_xlsx,
)

NOW = datetime.fromisoformat("2024-04-02T15:00:00+00:00")

EXPECTED = {
    "SALES": {
        "filters": ALL_PERIOD,
        "headers": [
            "Receipt",
            "Date",
            "Customer",
            "Cashier",
            "Payment method",
            "Status",
            "Items",
            "Subtotal",
            "Discount",
            "Tax",
            "Total",
        ],
        "count": 5,
        "noun": "sales",
        "key": "R-0003",
        "csv": [
            "R-0003",
            "2024-01-31 23:30:00",
            "Zoë Núñez 🎉",
            "Renée Ångström",
            "Card",
            "Completed",
            "3",
            "100.00",
            "10.00",
            "7.20",
            "97.20",
        ],
        "xlsx": [
            "R-0003",
            datetime(2024, 1, 31, 23, 30),
            "Zoë Núñez 🎉",
            "Renée Ångström",
            "Card",
            "Completed",
            3,
            Decimal("100"),
            Decimal("10"),
            Decimal("7.2"),
            Decimal("97.2"),
        ],
        "pdf": [
            "R-0003",
            "2024-01-31 23:30",
            "Zoë Núñez",
            "Renée Ångström",
            "100.00",
            "10.00",
            "7.20",
            "97.20",
        ],
        "totals": {7: "1369.56", 8: "12.00", 9: "108.60", 10: "1466.16"},
        "pdf_totals": ["Total: 5 sales", "1,369.56", "12.00", "108.60", "1,466.16"],
        "guarded": {"R-0004": (2, FORMULA_NAME)},
    },
    "CUSTOMERS": {
        "filters": {"include_credit_history": True},
        "headers": [
            "Name",
            "Email",
            "Phone",
            "Customer since",
            "Visits",
            "Total spent",
            "Credit limit",
            "Credit balance",
            "Credit transactions",
            "Credit charged",
            "Credit paid",
            "Last credit date",
        ],
        "count": 3,
        "noun": "customers",
        "key": "Zoë Núñez 🎉",
        "csv": [
            "Zoë Núñez 🎉",
            "zoe@example.com",
            "555-0100",
            "2023-06-01",
            "4",
            "123.45",
            "500.00",
            "30.00",
            "2",
            "50.00",
            "20.00",
            "2024-01-20",
        ],
        "xlsx": [
            "Zoë Núñez 🎉",
            "zoe@example.com",
            "555-0100",
            datetime(2023, 6, 1),
            4,
            Decimal("123.45"),
            Decimal("500"),
            Decimal("30"),
            2,
            Decimal("50"),
            Decimal("20"),
            datetime(2024, 1, 20),
        ],
        "pdf": [
            "zoe@example.com",
            "555-0100",
            "2023-06-01",
            "123.45",
            "500.00",
            "30.00",
            "50.00",
            "20.00",
            "2024-01-20",
        ],
        "totals": {5: "124.45"},
        "pdf_totals": ["Total: 3 customers", "124.45"],
        "guarded": {"'" + FORMULA_NAME: (1, "@evil.example.com")},
    },
    "INVENTORY": {
        "filters": {},
        "headers": [
            "SKU",
            "Product",
            "Category",
            "Quantity on hand",
            "Unit cost",
            "Retail price",
            "Stock value",
            "Retail value",
        ],
        "count": 3,
        "noun": "products",
        "key": "BAK-001",
        "csv": ["BAK-001", "Crème brûlée", "Bakery", "5", "2.50", "4.99", "12.50", "24.95"],
        "xlsx": [
            "BAK-001",
            "Crème brûlée",
            "Bakery",
            5,
            Decimal("2.5"),
            Decimal("4.99"),
            Decimal("12.5"),
            Decimal("24.95"),
        ],
        "pdf": ["BAK-001", "Crème brûlée", "Bakery", "2.50", "4.99", "12.50", "24.95"],
        "totals": {3: "17", 6: "132.50", 7: "264.83"},
        "pdf_totals": ["Total: 3 products", "17", "132.50", "264.83"],
        "guarded": {"BAK-002": (1, "-Nothing left")},
    },
    "AUDIT_LOGS": {
        "filters": ALL_PERIOD,
        "headers": ["Time", "User", "Action", "Entity", "Entity ID", "Details", "IP address"],
        "count": 3,
        "noun": "entries",
        "key": "price.change",
        "key_column": 2,
        "csv": [
            "2024-01-31 23:45:00",
            "Renée Ångström",
            "price.change",
            "product",
            "42",
            "'=cmd|' /C calc'!A0",
            "192.0.2.7",
        ],
        "xlsx": [
            datetime(2024, 1, 31, 23, 45),
            "Renée Ångström",
            "price.change",
            "product",
            "42",
            "=cmd|' /C calc'!A0",  # a text cell with the quote-prefix style: no ' shown
            "192.0.2.7",
        ],
        "pdf": ["2024-01-31 23:45", "Renée Ångström", "price.change", "=cmd|' /C calc'!A0", "192.0.2.7"],
        "totals": {},
        "pdf_totals": ["Total: 3 entries"],
        "guarded": {},
    },
}


def _row(rows, expected):
    column = expected.get("key_column", 0)
    matches = [r for r in rows if len(r) > column and r[column] == expected["key"]]
    assert len(matches) == 1, f"no single row with {expected['key']!r}"
    return matches[0]


def _as_decimal(value):
    return (
        Decimal(str(value)).normalize()
        if isinstance(value, float | int) and not isinstance(value, bool)
        else value
    )


@pytest.mark.parametrize("export_type", list(EXPECTED))
def test_csv(shop, tmp_path, export_type):
    expected = EXPECTED[export_type]
    result = generate_export(
        shop.business, export_type, "csv", expected["filters"], now=NOW, out_dir=tmp_path
    )
    assert result.content_type.startswith("text/csv")
    assert result.record_count == result.total_records == expected["count"]
    assert not result.truncated
    rows = read_csv(result.path)
    assert rows[0] == expected["headers"]
    assert len(rows) == 1 + expected["count"]  # no totals row in CSV
    assert _row(rows[1:], expected) == expected["csv"]
    for key, (column, original) in expected["guarded"].items():
        row = [r for r in rows if r[0] == key][0]
        assert row[column] == "'" + original
    assert result.path.read_bytes().count(b"\r\n") >= len(rows)  # RFC 4180 line ends
    if export_type == "AUDIT_LOGS":
        details = {r[2]: r[5] for r in rows[1:]}
        assert details["stock.adjust"] == LONG_TEXT  # CSV holds it whole
        assert details["login"] == "Tab\there and a bell"  # the bell (a control character) dropped
        assert {r[1] for r in rows[1:]} == {"Renée Ångström", "till2@example.com", ""}
    if export_type == "CUSTOMERS":
        names = {r[0] for r in rows[1:]}
        assert "BadName" in names


@pytest.mark.parametrize("export_type", list(EXPECTED))
def test_excel(shop, tmp_path, export_type):
    expected = EXPECTED[export_type]
    result = generate_export(
        shop.business, export_type, "excel", expected["filters"], now=NOW, out_dir=tmp_path
    )
    assert result.file_name.endswith(".xlsx")
    assert result.record_count == expected["count"]
    workbook = read_xlsx(result.path)
    ws = data_sheet(workbook)
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    n = expected["count"]
    width = len(expected["headers"])
    assert rows[0] == expected["headers"]
    assert len(rows) == 1 + n + 1  # header, rows, totals
    # Bold frozen header with an autofilter over the data (not the totals).
    assert all(cell.font.b for cell in ws[1])
    assert ws.freeze_panes == "A2"
    last = chr(ord("A") + width - 1)
    assert ws.auto_filter.ref == f"A1:{last}{n + 1}"
    # Widths from the header and the widest formatted value: no header clipped ("tity on hand").
    for i, header in enumerate(expected["headers"]):
        column_width = ws.column_dimensions[chr(ord("A") + i)].width
        assert column_width >= len(header) + 3, (header, column_width)  # + the filter's button
        values = [r[i] for r in rows[1:-1] if r[i] is not None and not isinstance(r[i], datetime)]
        widest = max((len(f"{v:,}" if isinstance(v, int | Decimal) else str(v)) for v in values), default=0)
        assert column_width >= min(widest, 60), (header, column_width)
    # Printed landscape, fit to the page's width, the header row on every page.
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
    assert ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$1:$1"
    # The known row, typed.
    assert [_as_decimal(v) for v in _row(rows[1:-1], expected)] == [_as_decimal(v) for v in expected["xlsx"]]
    # Money and dates carry number formats; the totals row is bold values, not formulas.
    for cell, kind in zip(ws[2], expected["xlsx"], strict=True):
        if isinstance(kind, Decimal):
            assert "0.00" in cell.number_format and "€" in cell.number_format
        if isinstance(kind, datetime):
            assert cell.number_format.startswith("yyyy-mm-dd")
            assert cell.is_date
    totals = rows[-1]
    assert totals[0] == f"Total: {n} {expected['noun']}"
    for index, value in expected["totals"].items():
        assert _as_decimal(totals[index]) == Decimal(value).normalize()
    assert all(cell.font.b for cell in ws[n + 2] if cell.value is not None)
    # No formula anywhere in the file; guarded text is a text cell with the quote-prefix style and
    # no visible apostrophe (CONTRACT section 5).
    with zipfile.ZipFile(result.path) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert sheets and not any(b"<f>" in xml or b"<f " in xml for xml in sheets)
    for key, (column, original) in expected["guarded"].items():
        excel_key = key.removeprefix("'")  # a key guarded in CSV is the plain text in Excel
        position = [i for i, r in enumerate(rows) if r[0] == excel_key][0]
        cell = ws.cell(row=position + 1, column=column + 1)
        assert cell.value == original and cell.data_type == "s"
        assert cell.quotePrefix
    unguarded = [c for r in ws.iter_rows(min_row=2) for c in r if c.value and str(c.value)[0] not in "=+-@"]
    assert not any(c.quotePrefix for c in unguarded)
    if export_type == "AUDIT_LOGS":
        details = {r[2]: r[5] for r in rows[1:-1]}
        assert len(details["stock.adjust"]) == 32767 and details["stock.adjust"].endswith("[truncated]")
        assert details["login"] == "Tab\there and a bell"


@pytest.mark.parametrize("export_type", list(EXPECTED))
def test_pdf(shop, tmp_path, export_type):
    expected = EXPECTED[export_type]
    result = generate_export(
        shop.business, export_type, "pdf", expected["filters"], now=NOW, out_dir=tmp_path
    )
    assert result.content_type == "application/pdf"
    assert result.record_count == result.total_records == expected["count"]
    text = read_pdf(result.path)
    assert "Café Zoë & Co" in text
    assert (
        "America/New_York" in text and "2 Apr 2024, 11:00" in text
    )  # generation time in business time (core display)
    for header in expected["headers"]:
        for word in header.split():
            assert word in text
    lines = [line for line in text.splitlines() if expected["key"].split()[0] in line]
    assert lines, text
    for value in expected["pdf"]:
        assert value in text, value
    for value in expected["pdf_totals"]:
        assert value in text, value
    assert "Page 1 of 1" in text
    assert "This PDF holds" not in text
    if export_type in ("SALES", "AUDIT_LOGS"):
        assert "1 Dec 2023 – 31 Mar 2024" in text
    if export_type == "SALES":
        # Shown as text, unguarded, in a PDF; wrapped inside its column ("...example." | "com/x...").
        assert '=HYPERLINK("http://' in text and '","click")' in text and "'=HYPERLINK" not in text
        assert "Amounts in euros" in text
    if export_type == "AUDIT_LOGS":
        assert "[truncated]" in text  # a 40,000-character cell is cut to a few lines
