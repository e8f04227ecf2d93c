"""generate_export(): periods in business time, progress, clean failure, empty shops, limits, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dashboard.core.errors import ValidationError
from dashboard.exports.registry import DATASETS, WRITERS, get_dataset
from dashboard.exports.service import ExportResult, build_file_name, content_type_for, generate_export
from dashboard.exports.writers.excel_writer import ExcelWriter
from dashboard.extensions import db
from dashboard.models.automation import EXPORT_TYPES, FORMATS
from dashboard.models.pos import Sale
from tests.exports.conftest import ALL_PERIOD, ny, read_csv, read_pdf, read_xlsx, sheet_values


def receipts(shop, tmp_path, filters, now) -> list[str]:
    result = generate_export(shop.business, "SALES", "csv", filters, now=now, out_dir=tmp_path)
    return [row[0] for row in read_csv(result.path)[1:]]


@pytest.mark.parametrize(
    "now, date_range, expected",
    [
        # 1 Feb 01:00 in New York (06:00 UTC): "yesterday" is 31 January there, not in UTC.
        (ny(2024, 2, 1, 1, 0), "yesterday", ["R-0003"]),
        (ny(2024, 2, 1, 1, 0), "today", ["R-0004"]),
        (ny(2024, 2, 1, 1, 0), "previous_month", ["R-0002", "R-0003"]),
        (ny(2024, 2, 1, 1, 0), "month_to_date", ["R-0004"]),
        # Across the year end, in New York time.
        (ny(2024, 1, 1, 12, 0), "previous_month", ["R-0001"]),
        (ny(2024, 1, 1, 12, 0), "year_to_date", ["R-0002"]),
        (ny(2024, 1, 1, 12, 0), "yesterday", ["R-0001"]),
        # Sunday 7 January: the previous week is Monday 25 - Sunday 31 December.
        (ny(2024, 1, 7, 12, 0), "previous_week", ["R-0001"]),
        (ny(2024, 1, 7, 12, 0), "last_7_days", ["R-0001", "R-0002"]),
        (ny(2024, 1, 8, 12, 0), "previous_week", ["R-0002"]),
        (ny(2024, 3, 1, 9, 0), "last_30_days", ["R-0003", "R-0004"]),
        (ny(2024, 3, 11, 9, 0), "year_to_date", ["R-0002", "R-0003", "R-0004", "R-0005"]),
    ],
)
def test_date_ranges_follow_the_business_clock(shop, tmp_path, now, date_range, expected):
    assert receipts(shop, tmp_path, {"date_range": date_range}, now) == expected


def test_custom_dates_are_inclusive_local_days(shop, tmp_path):
    now = datetime(2024, 6, 1, tzinfo=UTC)
    assert receipts(shop, tmp_path, {"start_date": "2024-03-10", "end_date": "2024-03-10"}, now) == ["R-0005"]
    assert receipts(shop, tmp_path, {"start_date": "2023-12-31", "end_date": "2024-01-01"}, now) == [
        "R-0001",
        "R-0002",
    ]
    assert receipts(shop, tmp_path, {"start_date": "2024-04-01", "end_date": "9999-12-31"}, now) == []
    assert receipts(shop, tmp_path, {"start_date": "0001-01-01", "end_date": "2023-12-31"}, now) == ["R-0001"]


def test_result_describes_the_file(shop, tmp_path):
    now = datetime(2024, 2, 1, 3, 0, tzinfo=UTC)  # still 31 January in New York
    result = generate_export(
        shop.business, "SALES", "excel", {"date_range": "previous_month"}, now=now, out_dir=tmp_path
    )
    assert isinstance(result, ExportResult)
    assert result.file_name == "sales_2023-12.xlsx"  # 31 Jan in New York: the previous month is December
    assert result.path.parent == tmp_path and result.path.exists()
    assert result.size == result.path.stat().st_size > 0
    assert result.filters_applied == {
        "date_range": "previous_month",
        "start_date": "2023-12-01",
        "end_date": "2023-12-31",
    }
    assert (result.record_count, result.total_records, result.truncated) == (1, 1, False)


def test_file_names_and_content_types():
    from datetime import date

    # The data's period names the file (CONTRACT section 6), no longer the run's date; types
    # without a period keep the run's date.
    day = date(2024, 3, 15)

    def period(start, end):
        return {"start_date": start, "end_date": end}

    assert (
        build_file_name("SALES", "excel", day, period("2024-03-14", "2024-03-14")) == "sales_2024-03-14.xlsx"
    )
    assert build_file_name("SALES", "csv", day, period("2024-03-04", "2024-03-10")) == "sales_2024-W10.csv"
    assert build_file_name("SALES", "pdf", day, period("2024-02-01", "2024-02-29")) == "sales_2024-02.pdf"
    assert (
        build_file_name("SALES", "excel", day, period("2024-02-15", "2024-03-14"))
        == "sales_2024-02-15_to_2024-03-14.xlsx"
    )
    assert build_file_name("AUDIT_LOGS", "csv", day, period("2024-03-15", "2024-03-15")) == (
        "audit_logs_2024-03-15.csv"
    )
    assert build_file_name("CUSTOMERS", "pdf", day) == "customers_2024-03-15.pdf"
    assert (
        build_file_name("INVENTORY", "csv", day, {"exclude_zero_value": True}) == "inventory_2024-03-15.csv"
    )
    assert content_type_for("pdf") == "application/pdf"
    assert content_type_for("excel") == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert content_type_for("csv") == "text/csv; charset=utf-8"
    assert set(DATASETS) == set(EXPORT_TYPES) and set(WRITERS) == set(FORMATS)


@pytest.mark.parametrize(
    "export_type, fmt, filters, field",
    [
        ("REFUNDS", "csv", {}, "export_type"),
        ("SALES", "docx", {"date_range": "today"}, "format"),
        ("SALES", "csv", {}, "filters.date_range"),
        ("SALES", "csv", "not an object", "filters"),
        ("CUSTOMERS", "excel", {"include_credit_history": "yes"}, "filters.include_credit_history"),
    ],
)
def test_bad_requests_raise_before_any_file_exists(shop, tmp_path, export_type, fmt, filters, field):
    with pytest.raises(ValidationError) as caught:
        generate_export(shop.business, export_type, fmt, filters, out_dir=tmp_path)
    assert field in caught.value.errors
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_every_batch(app, tmp_path):
    from dashboard import demo

    demo.seed_business(
        "Batch Shop", sales=2500, timezone="Europe/London", now=datetime(2024, 6, 1, tzinfo=UTC)
    )
    business = db.session.scalar(db.select(Sale.business_id).limit(1))
    from dashboard.models.pos import Business

    shop = db.session.get(Business, business)
    seen: list[int] = []
    result = generate_export(
        shop,
        "SALES",
        "csv",
        {"start_date": "2000-01-01", "end_date": "2100-01-01"},
        progress=seen.append,
        out_dir=tmp_path,
    )
    assert result.record_count == 2500
    assert seen == [1000, 2000, 2500, 2500]


def test_demo_data_totals_match_the_seed(app, tmp_path):
    """The exported totals equal what the demo seed says it inserted: nothing lost or doubled."""
    from dashboard import demo
    from dashboard.models.pos import Business

    summary = demo.seed_business("Totals Shop", sales=1200, timezone="Asia/Kolkata", currency="INR")
    shop = db.session.scalar(db.select(Business).where(Business.name == "Totals Shop"))
    filters = {"start_date": "2000-01-01", "end_date": "2100-01-01"}
    csv_rows = read_csv(generate_export(shop, "SALES", "csv", filters, out_dir=tmp_path).path)[1:]
    assert len(csv_rows) == summary.sales
    assert sum(Decimal(r[10]) for r in csv_rows) == Decimal(summary.total_cents) / 100
    workbook = read_xlsx(generate_export(shop, "SALES", "excel", filters, out_dir=tmp_path).path)
    values = list(workbook.active.iter_rows(values_only=True))
    assert len(values) == summary.sales + 2
    assert Decimal(str(values[-1][10])) == Decimal(summary.total_cents) / 100
    assert "₹" in workbook.active.cell(row=2, column=11).number_format


class Boom(Exception):
    pass


@pytest.mark.parametrize("fmt", ["csv", "excel"])
def test_a_raising_progress_callback_stops_the_export_and_removes_the_file(app, tmp_path, fmt):
    from dashboard import demo
    from dashboard.models.pos import Business

    demo.seed_business("Fenced Shop", sales=1500)
    shop = db.session.scalar(db.select(Business).where(Business.name == "Fenced Shop"))

    def lost_claim(count: int) -> None:
        raise Boom(f"claim lost at {count}")

    with pytest.raises(Boom):
        generate_export(
            shop,
            "SALES",
            fmt,
            {"start_date": "2000-01-01", "end_date": "2100-01-01"},
            progress=lost_claim,
            out_dir=tmp_path,
        )
    assert list(tmp_path.iterdir()) == []


def test_an_empty_business_gets_valid_files(factory, tmp_path):
    empty = factory.business("Nothing Yet", timezone="Europe/Paris", currency="EUR")
    filters = {"date_range": "last_30_days"}
    csv_result = generate_export(empty, "SALES", "csv", filters, out_dir=tmp_path)
    assert read_csv(csv_result.path) == [
        [
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
        ]
    ]
    assert csv_result.record_count == 0
    values = sheet_values(generate_export(empty, "CUSTOMERS", "excel", {}, out_dir=tmp_path).path)
    assert values[0][0] == "Name" and values[1][0] == "Total: 0 customers" and len(values) == 2
    pdf = generate_export(empty, "AUDIT_LOGS", "pdf", filters, out_dir=tmp_path)
    text = read_pdf(pdf.path)
    assert "No records match this export" in text and "Page 1 of 1" in text
    assert pdf.record_count == pdf.total_records == 0 and not pdf.truncated


def test_a_pdf_beyond_its_row_limit_says_so_on_its_first_page(shop, tmp_path):
    result = generate_export(shop.business, "SALES", "pdf", ALL_PERIOD, out_dir=tmp_path, pdf_max_rows=2)
    assert (result.record_count, result.total_records, result.truncated) == (2, 5, True)
    text = read_pdf(result.path)
    first_page = text.split("\f")[0]
    assert "This PDF holds the first 2 of 5 records; the Excel and CSV exports hold them all." in first_page
    assert "R-0002" in text and "R-0003" not in text
    # The limit comes from PDF_MAX_ROWS when not given.
    app_limit = generate_export(shop.business, "INVENTORY", "csv", {}, out_dir=tmp_path)
    assert not app_limit.truncated  # CSV is never limited


def test_pdf_limit_from_config(shop, tmp_path, app):
    """CSV and Excel hold every row whatever PDF_MAX_ROWS says."""
    app.config["PDF_MAX_ROWS"] = 1
    for fmt in ("csv", "excel"):
        result = generate_export(shop.business, "SALES", fmt, ALL_PERIOD, out_dir=tmp_path)
        assert (result.record_count, result.truncated) == (5, False)


def test_excel_continues_on_a_new_sheet_past_the_row_limit(shop, tmp_path, monkeypatch):
    # Excel's 1,048,576 rows, scaled down: 4 rows a sheet (header, 2 rows, room for the totals).
    monkeypatch.setattr(ExcelWriter, "max_sheet_rows", 4)
    result = generate_export(shop.business, "SALES", "excel", ALL_PERIOD, out_dir=tmp_path)
    from openpyxl import load_workbook

    workbook = load_workbook(result.path)
    assert workbook.sheetnames == ["Summary", "Sales", "Sales (2)", "Sales (3)"]  # the figures first
    data = []
    for ws in workbook.worksheets[1:]:
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0][0] == "Receipt" and ws.freeze_panes == "A2"
        assert len(rows) <= 4
        data += [r for r in rows[1:] if str(r[0]).startswith("R-")]
    assert [r[0] for r in data] == ["R-0001", "R-0002", "R-0003", "R-0004", "R-0005"]
    last = list(workbook.worksheets[-1].iter_rows(values_only=True))[-1]
    assert last[0] == "Total: 5 sales" and Decimal(str(last[10])) == Decimal("1466.16")


def test_another_business_rows_never_appear(shop, other_tenant, tmp_path):
    db.session.add(
        Sale(
            business_id=other_tenant.business.id,
            receipt_number="OTHER-1",
            created_at=ny(2024, 1, 15, 12, 0),
            total_cents=999,
        )
    )
    db.session.commit()
    assert "OTHER-1" not in receipts(shop, tmp_path, ALL_PERIOD, datetime(2024, 6, 1, tzinfo=UTC))
    other = generate_export(other_tenant.business, "SALES", "csv", ALL_PERIOD, out_dir=tmp_path)
    assert [r[0] for r in read_csv(other.path)[1:]] == ["OTHER-1"]


def test_inventory_exclude_zero_value(shop, tmp_path):
    result = generate_export(
        shop.business, "INVENTORY", "csv", {"exclude_zero_value": True}, out_dir=tmp_path
    )
    assert sorted(r[0] for r in read_csv(result.path)[1:]) == ["BAK-001", "GAR-001"]
    plain = generate_export(shop.business, "CUSTOMERS", "csv", {}, out_dir=tmp_path)
    assert len(read_csv(plain.path)[0]) == 8  # no credit columns without include_credit_history


def test_dataset_rows_are_typed(shop, app):
    dataset = get_dataset("SALES")
    with db.engine.connect() if db.engine.dialect.name == "postgresql" else db.session.connection() as conn:
        rows = list(dataset.rows(conn, shop.business, ALL_PERIOD))
        assert dataset.count(conn, shop.business, ALL_PERIOD) == 5
    assert rows[2][:2] == ("R-0003", datetime(2024, 1, 31, 23, 30))
    assert rows[2][-1] == Decimal("97.20")
