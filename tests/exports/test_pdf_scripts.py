"""A year of sales as PDF, read back by poppler (pdftotext, pdffonts): amounts never wrap, names in
any script come out as written (CJK through the fallback font, emoji as a box that extracts as the
emoji), and the totals are on page 1 as well as at the end."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from reportlab.pdfbase import pdfmetrics
from sqlalchemy import func, select

from dashboard.exports.columns import Column
from dashboard.exports.service import generate_export
from dashboard.exports.writers.pdf_fonts import (
    FALLBACK_FILE,
    FALLBACK_SYSTEM_DIR,
    FONT,
    MISSING,
    PRIMARY,
    REPLACEMENT,
    actual_text,
    register_fonts,
    shown_missing,
    split_runs,
)
from dashboard.exports.writers.pdf_layout import FONT_SIZE, FRAME_WIDTH, table_font_size
from dashboard.exports.writers.pdf_writer import render_pdf, widest_values
from dashboard.extensions import db
from dashboard.models.pos import Customer, Sale, User
from tests.exports.conftest import read_pdf
from tests.exports.test_pdf import sales_meta

NAMES = ["王小明", "山田太郎", "김민준", "Zoë 🎉 Núñez", "Ольга", "Family 👨‍👩‍👧 shop"]
YEAR = {"start_date": "2025-01-01", "end_date": "2025-12-31"}
NOW = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
needs_fallback = pytest.mark.skipif(
    not (FALLBACK_SYSTEM_DIR / FALLBACK_FILE).is_file(), reason="fonts-wqy-zenhei is not installed"
)


@pytest.fixture
def year_of_sales(factory):
    business = factory.business("北京烤鸭 Corner Café", timezone="Asia/Shanghai", currency="CNY")
    cashier = User(email="cashier@example.com", name="李华")
    db.session.add(cashier)
    customers = [Customer(business_id=business.id, name=name) for name in NAMES]
    db.session.add_all(customers)
    db.session.flush()
    start = datetime(2025, 1, 1, 2, 0)
    rows = []
    for day in range(365):
        for k in range(3):
            n = day * 3 + k
            # Amounts from cents to hundreds of thousands: 245,599.20 is the widest.
            subtotal = 24559920 if n == 500 else (n * 7919) % 9_000_000 + 5
            rows.append(
                Sale(
                    business_id=business.id,
                    receipt_number=f"R-{n:05d}",
                    created_at=start + timedelta(days=day, hours=k * 3),
                    customer_id=customers[n % len(customers)].id,
                    cashier_id=cashier.id,
                    payment_method="card",
                    status="refunded" if n % 17 == 0 else "completed",
                    item_count=n % 9 + 1,
                    subtotal_cents=subtotal,
                    discount_cents=subtotal // 20,
                    tax_cents=subtotal // 10,
                    total_cents=subtotal - subtotal // 20 + subtotal // 10,
                )
            )
    db.session.add_all(rows)
    db.session.commit()
    return business


@needs_fallback
def test_a_year_of_sales_pdf_reads_back_whole(year_of_sales, tmp_path):
    result = generate_export(year_of_sales, "SALES", "pdf", YEAR, now=NOW, out_dir=tmp_path)
    assert result.record_count == 365 * 3
    text = read_pdf(result.path)
    pages = text.split("\f")[:-1]
    assert len(pages) > 20
    # Every amount on one line: each sale's total, formatted as the PDF shows it, is one token.
    sales = Sale.__table__
    mine = sales.c.business_id == year_of_sales.id
    totals = db.session.execute(select(sales.c.total_cents).where(mine)).scalars()
    tokens = set(re.findall(r"\S+", text))
    amounts = {f"{cents / 100:,.2f}" for cents in totals}
    assert "257,879.16" in amounts  # the widest sale: 245,599.20 - 12,279.96 + 24,559.92
    missing = sorted(a for a in amounts if a not in tokens)
    assert not missing, f"{len(missing)} amounts broken across lines, e.g. {missing[:5]}"
    # Names in any script, extracted as written (the emoji too, drawn as a box).
    for name in NAMES + ["李华"]:
        assert name in text, name
    assert "北京烤鸭 Corner Café" in pages[0]
    # The totals on page 1 (the summary) as well as at the end, equal to the database's sums.
    columns = (sales.c.subtotal_cents, sales.c.discount_cents, sales.c.tax_cents, sales.c.total_cents)
    sums = db.session.execute(select(*map(func.sum, columns)).where(mine)).one()
    subtotal, discount, tax, total = (f"{v / 100:,.2f}" for v in sums)
    summary = " ".join(pages[0].split())
    assert f"Totals: Subtotal {subtotal} · Discount {discount} · Tax {tax} · Total {total}" in summary
    assert re.search(rf"Total: 1,095 sales\s+{re.escape(subtotal)}\s+{re.escape(discount)}", pages[-1])
    # The fallback font is embedded (as a subset), beside DejaVu Sans.
    fonts = subprocess.run(["pdffonts", str(result.path)], check=True, capture_output=True, text=True).stdout
    embedded = {line.split()[0].split("+")[-1] for line in fonts.splitlines()[2:] if " yes " in line}
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= embedded, fonts
    assert any(name.startswith("WenQuanYiZenHei") for name in embedded), fonts  # "...-0": TTC face 0
    # And the first page renders (poppler draws it: no broken stream or font program).
    subprocess.run(
        ["pdftoppm", "-png", "-r", "90", "-f", "1", "-l", "1", str(result.path), str(tmp_path / "year")],
        check=True,
    )
    rendered = list(tmp_path.glob("year*.png"))
    assert len(rendered) == 1 and rendered[0].stat().st_size > 10_000, rendered


@pytest.mark.nodb
def test_a_page_too_narrow_for_the_amounts_gets_a_smaller_font_not_wrapped_amounts(tmp_path):
    columns = [Column("Name", "text", 20)] + [
        Column(f"Amount {i}", "money", 8, total=True) for i in range(14)
    ]
    meta = sales_meta(40)
    meta.columns = columns
    rows = [[f"Customer {n}"] + [f"{(n + 1) * 12_345_678.91 + i:,.2f}" for i in range(14)] for n in range(40)]
    totals = ["Total: 40 sales"] + [
        f"{sum(float(r[i].replace(',', '')) for r in rows):,.2f}" for i in range(1, 15)
    ]
    path = tmp_path / "wide.pdf"
    render_pdf(path, meta, iter(rows), totals, row_count=len(rows), widest=widest_values(columns, rows))
    tokens = set(re.findall(r"\S+", read_pdf(path)))
    for value in {v for row in rows for v in row[1:]} | set(totals[1:]):
        assert value in tokens, value
    # The font did shrink: 15 columns of 13-16 digit amounts do not fit at 7.5 pt.
    needs = [len(totals[1]) * 0.6] * 14 + [1.0]
    assert table_font_size(needs, FRAME_WIDTH) < FONT_SIZE


@pytest.mark.nodb
def test_emoji_are_one_box_each_and_extract_as_themselves():
    register_fonts()
    dejavu = pdfmetrics.getFont(FONT)
    runs = split_runs("a🎉b👨‍👩‍👧❤️", dejavu)
    assert runs[0] == (PRIMARY, "a") and runs[1] == (MISSING, "🎉") and runs[2] == (PRIMARY, "b")
    assert [shown_missing(part) for kind, part in runs if kind == MISSING] == [REPLACEMENT, REPLACEMENT]
    assert actual_text("🎉") == "<FEFFD83CDF89>"  # UTF-16 with its surrogate pair
