"""`flask pos import`: row-by-row validation with a report, idempotent on the POS's ids, and the
exporters reading the imported data back."""

from __future__ import annotations

import csv
import gc
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard.exports.service import generate_export
from dashboard.extensions import db
from dashboard.models import AuditLog, Customer, Product, Sale, SaleLine
from dashboard.ops.pos_import import PosImporter


def write(path: Path, rows: list[list]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


@pytest.fixture
def shop(factory):
    business = factory.business("Corner Shop", timezone="Europe/London")
    factory.user(business, email="till1@example.com")
    return business


@pytest.fixture
def files(tmp_path):
    products = write(
        tmp_path / "products.csv",
        [
            ["sku", "name", "category", "quantity_on_hand", "unit_cost", "retail_price"],
            ["TEA-1", "Earl Grey", "Tea", "40", "1.20", "3.50"],
            ["CAK-1", "Carrot cake", "Cakes", "0", "0.80", "2.75"],
            ["", "No SKU", "Tea", "1", "1", "2"],  # refused: sku required
            ["BAD-1", "Bad price", "Tea", "1", "1.234", "2"],  # refused: three decimals
        ],
    )
    customers = write(
        tmp_path / "customers.csv",
        [
            [
                "id",
                "name",
                "email",
                "phone",
                "created_at",
                "visits",
                "total_spent",
                "credit_limit",
                "credit_balance",
            ],
            [
                "C1",
                "Ada Lovelace",
                "ada@example.com",
                "+44 1",
                "2025-01-02T10:00:00",
                "3",
                "12.50",
                "100",
                "0",
            ],
            ["C2", "Zoë Ünicode", "", "", "", "0", "0", "0", "0"],
            ["C1", "Duplicate", "", "", "", "", "", "", ""],  # refused: id twice
        ],
    )
    sales = write(
        tmp_path / "sales.csv",
        [
            [
                "receipt",
                "created_at",
                "payment_method",
                "status",
                "customer_id",
                "cashier_email",
                "discount",
                "tax",
                "subtotal",
                "total",
                "sku",
                "quantity",
                "unit_price",
                "line_total",
            ],
            [
                "R1",
                "2026-11-30T09:15:00",
                "card",
                "completed",
                "C1",
                "till1@example.com",
                "0",
                "0.80",
                "9.75",
                "10.55",
                "TEA-1",
                "2",
                "3.50",
                "7.00",
            ],
            [
                "R1",
                "2026-11-30T09:15:00",
                "card",
                "completed",
                "C1",
                "till1@example.com",
                "0",
                "0.80",
                "9.75",
                "10.55",
                "CAK-1",
                "1",
                "2.75",
                "",
            ],
            ["R2", "2026-11-30T18:00:00Z", "cash", "", "", "", "", "", "", "", "TEA-1", "1", "3.50", ""],
            ["R3", "2026-11-30T10:00:00", "bitcoin", "", "", "", "", "", "", "", "TEA-1", "1", "3.50", ""],
            ["R4", "2026-11-30T10:00:00", "cash", "", "C9", "", "", "", "", "", "TEA-1", "1", "3.50", ""],
            ["R5", "yesterday", "cash", "", "", "", "", "", "", "", "TEA-1", "1", "3.50", ""],
            ["R6", "2026-11-30T10:00:00", "cash", "", "", "", "", "", "", "9.99", "TEA-1", "1", "3.50", ""],
            ["R7", "2026-11-30T10:00:00", "cash", "", "", "", "", "", "", "", "NOPE", "1", "3.50", ""],
        ],
    )
    audit = write(
        tmp_path / "audit.csv",
        [
            ["id", "created_at", "action", "user_email", "entity", "entity_id", "details", "ip_address"],
            [
                "A1",
                "2026-11-30T09:00:00Z",
                "till.opened",
                "till1@example.com",
                "till",
                "1",
                "float 100",
                "10.0.0.9",
            ],
            ["A2", "2026-11-30T17:00:00Z", "till.closed", "", "till", "1", "", ""],
            ["A3", "", "till.closed", "", "", "", "", ""],  # refused: created_at required
        ],
    )
    return {"products": products, "customers": customers, "sales": sales, "audit": audit}


def counts(business_id) -> dict:
    def n(model):
        return db.session.scalar(select(func.count(model.id)).where(model.business_id == business_id))

    lines = db.session.scalar(
        select(func.count(SaleLine.id))
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.business_id == business_id)
    )
    return {
        "customers": n(Customer),
        "products": n(Product),
        "sales": n(Sale),
        "lines": lines,
        "audit": n(AuditLog),
    }


def run(runner, kind, path, *extra):
    return runner.invoke(args=["pos", "import", kind, str(path), "--business", "Corner Shop", *extra])


def test_import_validates_row_by_row_reports_refusals_and_is_idempotent(runner, shop, files, tmp_path):
    result = run(runner, "products", files["products"])
    assert result.exit_code == 1, result.output  # some rows refused
    assert "2 products" not in result.output and "2 rows added" in result.output
    assert "refused line 4 (no key): sku is required." in result.output
    assert "refused line 5 (BAD-1): unit_cost '1.234' has more than two decimals." in result.output
    result = run(runner, "customers", files["customers"])
    assert "2 rows added" in result.output and "id 'C1' appears twice" in result.output
    report = tmp_path / "refused.csv"
    result = run(runner, "sales", files["sales"], "--report", str(report))
    assert result.exit_code == 1
    assert "2 sales added (3 lines)" in result.output and "5 refused" in result.output
    reasons = {row["key"]: row["reason"] for row in csv.DictReader(open(report, encoding="utf-8"))}
    assert "payment_method 'bitcoin'" in reasons["R3"]
    assert "customer_id 'C9' is unknown" in reasons["R4"]
    assert "not an ISO 8601 date-time" in reasons["R5"]
    assert "total 9.99 is not subtotal - discount + tax (3.50)" in reasons["R6"]
    assert "sku 'NOPE' is unknown" in reasons["R7"]
    result = run(runner, "audit", files["audit"])
    assert "2 rows added" in result.output and "created_at is required" in result.output
    before = counts(shop.id)
    assert before == {"customers": 2, "products": 2, "sales": 2, "lines": 3, "audit": 2}

    # The same files again: nothing changes, nothing is doubled.
    for kind in ("products", "customers", "sales", "audit"):
        again = run(runner, kind, files[kind])
        assert " 0 rows added" in again.output or " 0 sales added" in again.output, again.output
        assert "0 updated" in again.output
    assert counts(shop.id) == before

    sale = db.session.scalar(select(Sale).where(Sale.receipt_number == "R1"))
    assert (sale.subtotal_cents, sale.tax_cents, sale.total_cents, sale.item_count) == (975, 80, 1055, 3)
    # 09:15 in London in November is 09:15 UTC; R2 said Z.
    assert sale.created_at.isoformat() == "2026-11-30T09:15:00+00:00"
    assert sale.cashier_id is not None and sale.customer_id is not None


def test_a_changed_row_updates_the_stored_one(runner, shop, files, tmp_path):
    for kind in ("products", "customers", "sales"):
        run(runner, kind, files[kind])
    refund = write(
        tmp_path / "refund.csv",
        [
            ["receipt", "created_at", "payment_method", "status", "sku", "quantity", "unit_price"],
            ["R2", "2026-11-30T18:00:00Z", "cash", "refunded", "TEA-1", "2", "3.50"],
        ],
    )
    result = run(runner, "sales", refund)
    assert result.exit_code == 0 and "1 updated" in result.output, result.output
    sale = db.session.scalar(select(Sale).where(Sale.receipt_number == "R2"))
    db.session.refresh(sale)
    assert sale.status == "refunded" and sale.total_cents == 700 and sale.item_count == 2
    assert db.session.scalar(select(func.count(SaleLine.id)).where(SaleLine.sale_id == sale.id)) == 1


@pytest.mark.parametrize(
    "content, message",
    [
        ("receipt,created_at\nR1,2026-01-01\n", "missing column(s) payment_method"),
        ("receipt,created_at,payment_method,totl\n", "unknown column(s) totl"),
        ("", "is empty"),
    ],
)
def test_a_wrong_file_is_refused_whole_with_a_clear_error(runner, shop, tmp_path, content, message):
    path = tmp_path / "sales.csv"
    path.write_text(content, encoding="utf-8")
    result = run(runner, "sales", path)
    assert result.exit_code == 2 and message in result.output
    assert counts(shop.id)["sales"] == 0


def test_missing_file_unknown_business_and_non_utf8(runner, shop, tmp_path):
    assert "cannot open" in run(runner, "sales", tmp_path / "nope.csv").output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("sku,name\nX1,Caf\xe9\n".encode("latin-1"))
    result = run(runner, "products", latin)
    assert result.exit_code == 2 and "UTF-8" in result.output
    other = runner.invoke(args=["pos", "import", "sales", str(latin), "--business", "Nobody"])
    assert other.exit_code == 2 and "no business named 'Nobody'" in other.output


def test_exports_read_the_imported_data_back(runner, shop, files, tmp_path):
    for kind in ("products", "customers", "sales", "audit"):
        run(runner, kind, files[kind])
    sales = generate_export(
        shop, "SALES", "csv", {"start_date": "2026-11-30", "end_date": "2026-11-30"}, out_dir=tmp_path
    )
    rows = list(csv.reader(io.StringIO(Path(sales.path).read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["R1", "R2"]
    assert rows[1][2] == "Ada Lovelace" and rows[1][-1] == "10.55"
    inventory = generate_export(shop, "INVENTORY", "csv", {}, out_dir=tmp_path)
    assert "Earl Grey" in Path(inventory.path).read_text(encoding="utf-8-sig")
    customers = generate_export(shop, "CUSTOMERS", "csv", {}, out_dir=tmp_path)
    assert "Zoë Ünicode" in Path(customers.path).read_text(encoding="utf-8-sig")
    audit = generate_export(
        shop, "AUDIT_LOGS", "csv", {"start_date": "2026-11-30", "end_date": "2026-11-30"}, out_dir=tmp_path
    )
    assert "till.opened" in Path(audit.path).read_text(encoding="utf-8-sig")


def test_a_receipt_split_across_the_file_is_refused_not_merged(runner, shop, tmp_path):
    path = write(
        tmp_path / "split.csv",
        [
            ["receipt", "created_at", "payment_method", "quantity", "unit_price"],
            ["R1", "2026-11-30T09:00:00Z", "cash", "1", "1.00"],
            ["R2", "2026-11-30T09:05:00Z", "cash", "1", "2.00"],
            ["R1", "2026-11-30T09:00:00Z", "cash", "1", "1.00"],
        ],
    )
    result = run(runner, "sales", path)
    assert result.exit_code == 1 and "2 sales added" in result.output
    assert (
        "receipt 'R1' already appeared at line 2: the rows of one receipt must be consecutive."
        in result.output
    )
    assert counts(shop.id)["lines"] == 2


def test_the_collector_is_held_back_during_an_import_and_restored(runner, shop, files, monkeypatch):
    """Hundreds of thousands of short-lived rows: the cyclic collector's passes made an import
    superlinear (docs/performance.md), so it is held back while the rows are written."""
    seen = []
    original = PosImporter._products

    def products(self, rows, report):
        seen.append(gc.isenabled())
        return original(self, rows, report)

    monkeypatch.setattr(PosImporter, "_products", products)
    result = run(runner, "products", files["products"])
    assert "2 rows added" in result.output
    assert seen == [False]
    assert gc.isenabled()
