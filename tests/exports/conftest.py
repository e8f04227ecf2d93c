"""A shop with hand-made rows whose values the export tests know, and readers for the three formats.

The shop is in America/New_York: its sales sit on both sides of local midnight at a month end and
a year end (where the UTC date differs from the local one) and on a daylight-saving day.
"""

from __future__ import annotations

import csv
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from dashboard.extensions import db
from dashboard.models.pos import AuditLog, CreditTransaction, Customer, Product, Sale, User

NY = ZoneInfo("America/New_York")
BOM = b"\xef\xbb\xbf"
LONG_TEXT = "Ä" * 40_000
FORMULA_NAME = '=HYPERLINK("http://example.com/x","click")'
ALL_PERIOD = {"start_date": "2023-12-01", "end_date": "2024-03-31"}


def ny(*args) -> datetime:
    """A New York wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=NY).astimezone(UTC)


class Shop:
    pass


@pytest.fixture
def shop(factory):
    business = factory.business("Café Zoë & Co", timezone="America/New_York", currency="EUR")
    cashier = User(email="renee@example.com", name="Renée Ångström")
    nameless = User(email="till2@example.com", name="")
    db.session.add_all([cashier, nameless])
    db.session.flush()

    zoe = Customer(
        business_id=business.id,
        name="Zoë Núñez 🎉",
        email="zoe@example.com",
        phone="555-0100",
        created_at=ny(2023, 6, 1, 22, 30),  # 2 June in UTC, 1 June in New York
        visits=4,
        total_spent_cents=12345,
        credit_limit_cents=50000,
        credit_balance_cents=3000,
    )
    evil = Customer(
        business_id=business.id,
        name=FORMULA_NAME,
        email="@evil.example.com",
        phone="+1 555 0199",
        created_at=ny(2023, 7, 4, 12, 0),
        visits=1,
        total_spent_cents=100,
        credit_limit_cents=0,
        credit_balance_cents=0,
    )
    control = Customer(
        business_id=business.id,
        name="Bad\x01Na\x1fme",
        email="",
        phone="",
        created_at=ny(2023, 8, 1, 9, 0),
        visits=0,
        total_spent_cents=0,
        credit_limit_cents=0,
        credit_balance_cents=0,
    )
    db.session.add_all([zoe, evil, control])
    db.session.flush()
    db.session.add_all(
        [
            CreditTransaction(
                business_id=business.id,
                customer_id=zoe.id,
                created_at=ny(2024, 1, 10, 12, 0),
                kind="charge",
                amount_cents=5000,
            ),
            CreditTransaction(
                business_id=business.id,
                customer_id=zoe.id,
                created_at=ny(2024, 1, 20, 21, 0),  # 21 January in New York, 21/22 in UTC
                kind="payment",
                amount_cents=2000,
            ),
        ]
    )

    def sale(
        receipt,
        when,
        customer=None,
        subtotal=0,
        discount=0,
        tax=0,
        items=1,
        method="card",
        status="completed",
    ):
        return Sale(
            business_id=business.id,
            receipt_number=receipt,
            created_at=when,
            customer_id=customer.id if customer else None,
            cashier_id=cashier.id if receipt != "R-0005" else nameless.id,
            payment_method=method,
            status=status,
            item_count=items,
            subtotal_cents=subtotal,
            discount_cents=discount,
            tax_cents=tax,
            total_cents=subtotal - discount + tax,
        )

    db.session.add_all(
        [
            # 31 Dec 23:59 in New York is 1 Jan 04:59 UTC: a December sale.
            sale("R-0001", ny(2023, 12, 31, 23, 59), zoe, 1000, 0, 80, items=1),
            sale("R-0002", ny(2024, 1, 1, 0, 0), None, 2000, 200, 144, items=2, method="cash"),
            # 31 Jan 23:30 in New York is 1 Feb 04:30 UTC: a January sale.
            sale("R-0003", ny(2024, 1, 31, 23, 30), zoe, 10000, 1000, 720, items=3),
            sale(
                "R-0004", ny(2024, 2, 1, 0, 15), evil, 500, 0, 40, items=1, method="mobile", status="refunded"
            ),
            # The day New York springs forward: 03:30 EDT.
            sale("R-0005", ny(2024, 3, 10, 3, 30), None, 123456, 0, 9876, items=7, method="credit"),
        ]
    )
    db.session.add_all(
        [
            Product(
                business_id=business.id,
                sku="BAK-001",
                name="Crème brûlée",
                category="Bakery",
                quantity_on_hand=5,
                unit_cost_cents=250,
                retail_price_cents=499,
            ),
            Product(
                business_id=business.id,
                sku="BAK-002",
                name="-Nothing left",
                category="Bakery",
                quantity_on_hand=0,
                unit_cost_cents=300,
                retail_price_cents=650,
            ),
            Product(
                business_id=business.id,
                sku="GAR-001",
                name="Gärtner's gloves",
                category="Garden",
                quantity_on_hand=12,
                unit_cost_cents=1000,
                retail_price_cents=1999,
            ),
        ]
    )
    db.session.add_all(
        [
            AuditLog(
                business_id=business.id,
                created_at=ny(2024, 1, 31, 23, 45),
                user_id=cashier.id,
                action="price.change",
                entity="product",
                entity_id="42",
                details="=cmd|' /C calc'!A0",
                ip_address="192.0.2.7",
            ),
            AuditLog(
                business_id=business.id,
                created_at=ny(2024, 2, 1, 0, 5),
                user_id=nameless.id,
                action="stock.adjust",
                entity="product",
                entity_id="43",
                details=LONG_TEXT,
                ip_address="192.0.2.8",
            ),
            AuditLog(
                business_id=business.id,
                created_at=ny(2024, 2, 2, 8, 0),
                user_id=None,
                action="login",
                entity="user",
                entity_id="",
                details="Tab\there and a bell\x07",
                ip_address="",
            ),
        ]
    )
    db.session.commit()
    s = Shop()
    s.business, s.cashier, s.zoe, s.evil = business, cashier, zoe, evil
    return s


# ---- readers: a different program from the writer ------------------------------------------


def read_csv(path: Path) -> list[list[str]]:
    raw = Path(path).read_bytes()
    assert raw.startswith(BOM), "CSV must start with a UTF-8 BOM"
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def read_xlsx(path: Path):
    workbook = openpyxl.load_workbook(path)
    return workbook


def sheet_values(path: Path) -> list[tuple]:
    workbook = read_xlsx(path)
    return [tuple(row) for row in data_sheet(workbook).iter_rows(values_only=True)]


def data_sheet(workbook):
    """The first sheet of rows: SALES and INVENTORY workbooks open with a "Summary" sheet."""
    return next(ws for ws in workbook.worksheets if ws.title != "Summary")


def read_pdf(path: Path) -> str:
    assert Path(path).read_bytes().startswith(b"%PDF-")
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
