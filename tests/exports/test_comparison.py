"""Period over period and conditions, at a fixed `now`; every figure checked against sums this test
computes with its own SQL (issue 18 items 3 and 4)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, text

from dashboard.exports.comparison import compare_periods
from dashboard.exports.conditions import clean_conditions, unmet_reason
from dashboard.exports.service import generate_export
from dashboard.extensions import db
from dashboard.models import ExportHistory, MailMessage
from dashboard.models.pos import Product, Sale
from dashboard.services import runs
from tests.automation.runner_helpers import make_schedule
from tests.exports.conftest import read_pdf, read_xlsx

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 2 Dec in New York: "previous month" is November
NOVEMBER = {"date_range": "previous_month"}


@pytest.fixture
def cafe(factory):
    business = factory.business("Corner Café", timezone="America/New_York", currency="USD")
    rows = []
    # November 2026 and October 2026 in New York time, with a sale on each side of both edges.
    for n, (when, cents, status) in enumerate(
        [
            (datetime(2026, 11, 1, 3, 30), 1000, "completed"),  # 31 Oct 23:30 New York: October
            (datetime(2026, 11, 1, 5, 30), 2500, "completed"),  # 1 Nov 01:30 New York (EDT)
            (datetime(2026, 11, 15, 17, 0), 4000, "completed"),
            (datetime(2026, 11, 20, 17, 0), 1500, "refunded"),
            (datetime(2026, 11, 21, 17, 0), 900, "voided"),
            (datetime(2026, 12, 1, 4, 59), 3000, "completed"),  # 30 Nov 23:59 New York (EST)
            (datetime(2026, 12, 1, 5, 0), 7777, "completed"),  # 1 Dec: not in November
            (datetime(2026, 10, 10, 12, 0), 5000, "completed"),
            (datetime(2026, 10, 11, 12, 0), 600, "refunded"),
        ]
    ):
        rows.append(
            Sale(
                business_id=business.id,
                receipt_number=f"R-{n:03d}",
                created_at=when.replace(tzinfo=UTC),
                status=status,
                item_count=1,
                subtotal_cents=cents,
                total_cents=cents,
            )
        )
    rows += [
        Product(
            business_id=business.id,
            sku="A",
            name="Tea",
            quantity_on_hand=10,
            unit_cost_cents=150,
            retail_price_cents=400,
        ),
        Product(
            business_id=business.id,
            sku="B",
            name="Cake",
            quantity_on_hand=3,
            unit_cost_cents=900,
            retail_price_cents=2500,
        ),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return business


def own_sums(business, start_utc: str, end_utc: str) -> tuple[Decimal, int, Decimal]:
    """This test's own SQL: completed totals, completed count, refunded totals in [start, end)."""
    id_value = db.session.execute(
        text("SELECT id FROM businesses WHERE name = :n"), {"n": business.name}
    ).scalar()
    row = db.session.execute(
        text(
            "SELECT "
            " COALESCE(SUM(CASE WHEN status = 'completed' THEN total_cents END), 0),"
            " COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 END), 0),"
            " COALESCE(SUM(CASE WHEN status = 'refunded' THEN total_cents END), 0) "
            "FROM sales WHERE business_id = :b AND created_at >= :s AND created_at < :e"
        ),
        {"b": id_value, "s": start_utc, "e": end_utc},
    ).one()
    return Decimal(row[0]) / 100, int(row[1]), Decimal(row[2]) / 100


def figures(summary) -> dict:
    return {f["key"]: f for f in summary["figures"]}


def test_sales_period_over_period_in_the_file_the_result_and_two_queries(cafe, tmp_path):
    statements = []

    def count(conn, cursor, statement, *args):
        if "sales" in statement and "sum(" in statement.lower():
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = generate_export(cafe, "SALES", "excel", NOVEMBER, now=NOW, out_dir=tmp_path)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 2  # one aggregate query per period, whatever the number of rows
    summary = result.summary
    assert summary["period"]["label"] == "November 2026"
    assert summary["previous_period"]["label"] == "October 2026"
    # New York: November is [1 Nov 04:00 UTC (EDT), 1 Dec 05:00 UTC (EST)); October [1 Oct 04:00, 1 Nov 04:00).
    sales, receipts, refunds = own_sums(cafe, "2026-11-01 04:00:00", "2026-12-01 05:00:00")
    before_sales, before_receipts, before_refunds = own_sums(
        cafe, "2026-10-01 04:00:00", "2026-11-01 04:00:00"
    )
    assert (sales, receipts, refunds) == (Decimal("95"), 3, Decimal("15"))  # 25 + 40 + 30; 15
    got = figures(summary)
    assert Decimal(got["sales"]["current"]) == sales and Decimal(got["sales"]["previous"]) == before_sales
    assert got["receipts"]["current"] == receipts and got["receipts"]["previous"] == before_receipts
    assert (
        Decimal(got["refunds"]["current"]) == refunds
        and Decimal(got["refunds"]["previous"]) == before_refunds
    )
    assert Decimal(got["average_ticket"]["current"]) == (sales / receipts).quantize(Decimal("0.01"))
    assert got["sales"]["change_percent"] == round(float((sales - before_sales) * 100 / before_sales), 1)
    # The workbook opens on a "Summary" sheet with the same figures, typed.
    workbook = read_xlsx(result.path)
    assert workbook.sheetnames == ["Summary", "Sales"]
    rows = list(workbook["Summary"].iter_rows(values_only=True))
    assert rows[1][:2] == ("Period", "November 2026") and rows[2][:2] == ("Compared with", "October 2026")
    by_label = {r[0]: r for r in rows[5:]}
    assert Decimal(str(by_label["Sales (completed)"][1])) == sales
    assert by_label["Receipts"][1:3] == (receipts, before_receipts)


def test_the_pdf_shows_the_figures_on_page_one(cafe, tmp_path):
    result = generate_export(cafe, "SALES", "pdf", NOVEMBER, now=NOW, out_dir=tmp_path)
    first = read_pdf(result.path).split("\f")[0]
    assert "November 2026" in first and "October 2026" in first
    line = next(line for line in first.splitlines() if "Sales (completed)" in line)
    # October: 50.00 + the 10.00 of 31 Oct 23:30 New York (1 Nov in UTC): 60.00.
    assert line.split()[-3:] == ["95.00", "60.00", "+58.3%"]
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(result.path), str(tmp_path / "p")],
        check=True,
    )


def test_inventory_compares_with_the_last_run_recorded(cafe, tmp_path):
    with db.engine.connect() as connection:
        first = compare_periods(connection, cafe, "INVENTORY", {}, today=NOW.date())
    got = figures(first)
    own = db.session.execute(
        text(
            "SELECT SUM(quantity_on_hand * unit_cost_cents), SUM(quantity_on_hand * retail_price_cents) FROM products"
        )
    ).one()
    assert Decimal(got["stock_value"]["current"]) == Decimal(own[0]) / 100 == Decimal("42.00")
    assert Decimal(got["retail_value"]["current"]) == Decimal(own[1]) / 100 == Decimal("115.00")
    assert got["stock_value"]["previous"] is None and got["stock_value"]["change_percent"] is None
    db.session.execute(text("UPDATE products SET quantity_on_hand = quantity_on_hand * 2"))
    db.session.commit()
    with db.engine.connect() as connection:
        second = compare_periods(connection, cafe, "INVENTORY", {}, today=NOW.date(), previous_snapshot=first)
    got = figures(second)
    assert (got["stock_value"]["current"], got["stock_value"]["previous"]) == ("84.00", "42.00")
    assert got["stock_value"]["change_percent"] == 100.0


@pytest.mark.parametrize(
    "conditions, count, reason",
    [
        ({}, 0, ""),
        ({"min_records": 3}, 3, ""),
        ({"min_records": 4}, 3, "Not sent: 3 records, fewer than the 4 this schedule's conditions ask for."),
        ({"min_total": "95.00"}, 3, ""),
        (
            {"min_total": "95.01"},
            3,
            "Not sent: sales (completed) of 95.00, below the 95.01 this schedule's conditions ask for.",
        ),
        ({"min_change_percent": 50}, 3, ""),
        (
            {"min_change_percent": 90},
            3,
            "Not sent: sales (completed) moved +58.3% against the previous period, not more than the 90% this schedule's conditions ask for.",
        ),
    ],
)
def test_conditions_against_the_figures(cafe, tmp_path, conditions, count, reason):
    result = generate_export(cafe, "SALES", "csv", NOVEMBER, now=NOW, out_dir=tmp_path)
    assert unmet_reason(clean_conditions(conditions), count, result.summary) == reason


@pytest.mark.parametrize(
    "value",
    [
        [],
        "x",
        {"min_records": -1},
        {"min_records": True},
        {"min_total": "ten"},
        {"min_total": "NaN"},
        {"min_change_percent": 0},
        {"unknown": 1},
    ],
)
def test_bad_conditions_are_refused(value):
    assert clean_conditions(value) is None


def test_a_run_whose_conditions_fail_stays_completed_sends_nothing_and_says_why(cafe, monkeypatch):
    schedule = make_schedule(
        cafe,
        name="November sales",
        export_type="SALES",
        format="excel",
        filters=NOVEMBER,
        recipients=["boss@example.com"],
        conditions={"min_total": "1000.00"},
        next_run_at=None,
    )
    import dashboard.automation.execution as execution

    monkeypatch.setattr(execution, "utcnow", lambda: NOW.replace(tzinfo=UTC))
    history = runs.trigger_schedule(schedule, None, "MANUAL")
    db.session.refresh(history)
    assert history.status == "COMPLETED" and history.record_count == 5  # refunded and voided too
    assert history.skipped_reason == (
        "Not sent: sales (completed) of 95.00, below the 1,000.00 this schedule's conditions ask for."
    )
    assert history.email_sent is False
    assert db.session.query(MailMessage).filter_by(business_id=cafe.id).count() == 0
    assert figures(history.summary)["receipts"]["current"] == 3
    # Met conditions send as usual.
    schedule.conditions = {"min_records": 1}
    db.session.commit()
    sent = runs.trigger_schedule(schedule, None, "MANUAL")
    db.session.refresh(sent)
    assert (
        sent.skipped_reason == ""
        and db.session.query(MailMessage).filter_by(business_id=cafe.id).count() >= 1
    )
    assert db.session.query(ExportHistory).filter_by(business_id=cafe.id).count() == 2


def test_the_mail_says_the_figures_in_text_and_html(cafe, tmp_path):
    from dashboard.delivery.render import render_export_mail
    from dashboard.models import ExportNotificationSettings

    schedule = make_schedule(
        cafe, name="November sales", export_type="SALES", format="excel", filters=NOVEMBER, next_run_at=None
    )
    result = generate_export(cafe, "SALES", "excel", NOVEMBER, now=NOW, out_dir=tmp_path)
    history = ExportHistory(
        business_id=cafe.id,
        schedule_id=schedule.id,
        schedule_name=schedule.name,
        export_type="SALES",
        format="excel",
        status="COMPLETED",
        completed_at=NOW,
        record_count=result.record_count,
        filters_applied=result.filters_applied,
        summary=result.summary,
        file_name=result.file_name,
    )
    db.session.add(history)
    db.session.commit()
    mail = render_export_mail(history, ExportNotificationSettings(business_id=cafe.id))
    assert mail.subject == "November sales — Sales export (Excel) — Corner Café — November 2026"
    assert "November 2026 compared with October 2026:" in mail.text
    assert "Sales (completed)" in mail.text and "95.00  (before 60.00, +58.3%)" in mail.text
    assert "Receipts" in mail.text and "(before 2, +50.0%)" in mail.text
    assert "November 2026 compared with October 2026" in mail.html
    assert ">+58.3%</td>" in mail.html and ">95.00</td>" in mail.html and ">60.00</td>" in mail.html
    (tmp_path / "mail.html").write_text(mail.html)
