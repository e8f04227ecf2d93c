"""The POS import of sales: rows grouped into receipts as they stream by, each receipt checked as one
unit (one bad line refuses it), written with its lines in batches; a changed receipt replaces the
stored one."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, delete, insert, select, text, update

from dashboard.extensions import db
from dashboard.models.pos import (
    PAYMENT_METHODS,
    SALE_STATUSES,
    Customer,
    Product,
    Sale,
    SaleLine,
)
from dashboard.ops.pos_bulk import copy_rows, copy_rows_with_new_ids, is_postgresql, naive_utc
from dashboard.ops.pos_rows import (
    BATCH,
    SALE_COLUMNS,
    ImportReport,
    RowError,
    int_cell,
    money_cents,
    text_cell,
    when_cell,
)

# When a PostgreSQL import refreshes the planner's figures: after this many new sales, then at
# ten times as many each time (5,000, 50,000, 500,000...).
ANALYZE_FIRST_AT = 5_000


class SalesImport:
    """The sales part of PosImporter (dashboard/ops/pos_import.py), which provides `business`,
    `zone`, `now`, `_map`, `_user` and `_refuse`."""

    def _sales(self, rows: Iterable[tuple[int, dict]], report: ImportReport) -> None:
        """Rows are grouped into receipts as they stream by (a receipt's rows are consecutive), so
        memory stays flat whatever the file's size."""
        customers = self._map(Customer.__table__.c.id, Customer.__table__.c.external_id)
        products = self._map(Product.__table__.c.id, Product.__table__.c.sku)
        seen: dict[str, int] = {}
        batch: list[tuple[str, dict, list[dict]]] = []
        self._analyze_at = ANALYZE_FIRST_AT

        def finish(receipt: str, group: list[tuple[int, dict]]) -> None:
            first_line = group[0][0]
            if receipt in seen:
                self._refuse(
                    report,
                    first_line,
                    receipt,
                    f"receipt {receipt!r} already appeared at line {seen[receipt]}: "
                    "the rows of one receipt must be consecutive.",
                )
                return
            seen[receipt] = first_line
            try:
                sale, lines = self._sale(receipt, group, customers, products)
            except RowError as exc:
                self._refuse(report, exc.line or first_line, receipt, str(exc))
                return
            batch.append((receipt, sale, lines))
            if len(batch) >= BATCH:
                self._write_sales(batch, report)

        current: str | None = None
        group: list[tuple[int, dict]] = []
        for line, row in rows:
            report.rows += 1
            receipt = (row.get("receipt") or "").strip()
            if group and receipt != current:
                finish(current, group)
                group = []
            current = receipt
            group.append((line, row))
        if group:
            finish(current, group)
        self._write_sales(batch, report)

    def _sale(
        self, receipt: str, group: list[tuple[int, dict]], customers: dict, products: dict
    ) -> tuple[dict, list[dict]]:
        text_cell(receipt, "receipt", 32, required=True)
        first = group[0][1]
        for line, row in group:
            if row.get("__extra__"):
                raise RowError("more cells than columns in the header.", line)
            for column in SALE_COLUMNS + ("subtotal", "total"):
                if (row.get(column) or "").strip() != (first.get(column) or "").strip():
                    raise RowError(f"the rows of receipt {receipt!r} disagree on {column}.", line)
        payment = (first.get("payment_method") or "").strip().lower()
        if payment not in PAYMENT_METHODS:
            raise RowError(f"payment_method {payment!r} is not one of {', '.join(PAYMENT_METHODS)}.")
        status = (first.get("status") or "completed").strip().lower()
        if status not in SALE_STATUSES:
            raise RowError(f"status {status!r} is not one of {', '.join(SALE_STATUSES)}.")
        customer_key = (first.get("customer_id") or "").strip()
        customer_id = None
        if customer_key:
            customer_id = customers.get(customer_key)
            if customer_id is None:
                raise RowError(f"customer_id {customer_key!r} is unknown (import the customers first).")
        lines: list[dict] = []
        for line, row in group:
            if not (row.get("quantity") or "").strip() and not (row.get("sku") or "").strip():
                continue  # a receipt row without a line
            sku = (row.get("sku") or "").strip()
            product_id = None
            if sku:
                product_id = products.get(sku)
                if product_id is None:
                    raise RowError(f"sku {sku!r} is unknown (import the products first).", line)
            quantity = int_cell(row.get("quantity"), "quantity", default=1)
            if quantity == 0:
                raise RowError("quantity must not be 0.", line)
            unit_price = money_cents(row.get("unit_price"), "unit_price", default=None)
            line_total = money_cents(row.get("line_total"), "line_total", default=unit_price * quantity)
            lines.append(
                {
                    "product_id": product_id,
                    "quantity": quantity,
                    "unit_price_cents": unit_price,
                    "line_total_cents": line_total,
                }
            )
        computed_subtotal = sum(item["line_total_cents"] for item in lines)
        subtotal = money_cents(first.get("subtotal"), "subtotal", default=computed_subtotal)
        if lines and subtotal != computed_subtotal:
            raise RowError(
                f"subtotal {subtotal / 100:.2f} is not the sum of the line totals ({computed_subtotal / 100:.2f})."
            )
        discount = money_cents(first.get("discount"), "discount")
        tax = money_cents(first.get("tax"), "tax")
        total = money_cents(first.get("total"), "total", default=subtotal - discount + tax)
        if total != subtotal - discount + tax:
            raise RowError(
                f"total {total / 100:.2f} is not subtotal - discount + tax "
                f"({(subtotal - discount + tax) / 100:.2f})."
            )
        sale = {
            "business_id": self.business.id,
            "receipt_number": receipt,
            "created_at": when_cell(first.get("created_at"), "created_at", self.zone),
            "customer_id": customer_id,
            "cashier_id": self._user(first.get("cashier_email"), "cashier_email"),
            "payment_method": payment,
            "status": status,
            "item_count": sum(item["quantity"] for item in lines),
            "subtotal_cents": subtotal,
            "discount_cents": discount,
            "tax_cents": tax,
            "total_cents": total,
        }
        return sale, lines

    def _write_sales(self, batch: list[tuple[str, dict, list[dict]]], report: ImportReport) -> None:
        if not batch:
            return
        sales, lines_table = Sale.__table__, SaleLine.__table__
        receipts = [receipt for receipt, _, _ in batch]
        existing = dict(
            db.session.execute(
                select(sales.c.receipt_number, sales.c.id).where(
                    sales.c.business_id == self.business.id, sales.c.receipt_number.in_(receipts)
                )
            ).all()
        )
        new = [(r, s, items) for r, s, items in batch if r not in existing]
        old = [(r, s, items) for r, s, items in batch if r in existing]
        line_rows: list[dict] = []
        if new:
            if is_postgresql():
                new_ids = copy_rows_with_new_ids(sales, [s for _, s, _ in new])
            else:
                new_ids = [
                    sale_id
                    for (sale_id,) in db.session.execute(
                        insert(sales).returning(sales.c.id, sort_by_parameter_order=True),
                        [s for _, s, _ in new],
                    )
                ]
            for (_, _, items), sale_id in zip(new, new_ids, strict=True):
                line_rows.extend({"sale_id": sale_id, **item} for item in items)
            report.inserted += len(new)
        if old:
            changed_ids = self._changed_sales(old, existing)
            changed = [(r, s, items) for r, s, items in old if existing[r] in changed_ids]
            if changed:
                columns = [name for name in changed[0][1] if name not in ("business_id", "receipt_number")]
                statement = (
                    update(sales)
                    .where(sales.c.id == bindparam("_id"))
                    .values({name: bindparam(name) for name in columns})
                )
                db.session.connection().execute(
                    statement, [{"_id": existing[r], **{c: s[c] for c in columns}} for r, s, _ in changed]
                )
                db.session.execute(delete(lines_table).where(lines_table.c.sale_id.in_(changed_ids)))
                for receipt, _, items in changed:
                    line_rows.extend({"sale_id": existing[receipt], **item} for item in items)
            report.updated += len(changed)
            report.unchanged += len(old) - len(changed)
        if line_rows:
            if is_postgresql():
                copy_rows(lines_table, line_rows)
            else:
                db.session.execute(insert(lines_table), line_rows)
            report.lines += len(line_rows)
        if is_postgresql() and report.inserted >= getattr(self, "_analyze_at", ANALYZE_FIRST_AT):
            # The planner's figures for the tables this import is filling: without them (autovacuum
            # off or behind, a first import into an empty business) each batch's receipt lookup was
            # planned as a scan of every sale, and 100,000 sales took tens of minutes, not seconds.
            db.session.execute(text(f'ANALYZE "{sales.name}", "{lines_table.name}"'))
            self._analyze_at = report.inserted * 10
        batch.clear()

    def _changed_sales(self, old: list[tuple[str, dict, list[dict]]], existing: dict[str, int]) -> set[int]:
        """Ids of stored sales whose columns or lines differ from the file's."""
        sales, lines_table = Sale.__table__, SaleLine.__table__
        ids = [existing[r] for r, _, _ in old]
        columns = [name for name in old[0][1] if name not in ("business_id", "receipt_number")]
        stored = {
            row.id: tuple(getattr(row, c) for c in columns)
            for row in db.session.execute(
                select(sales.c.id, *[sales.c[c] for c in columns]).where(sales.c.id.in_(ids))
            )
        }
        stored_lines: dict[int, list[tuple]] = {}
        for row in db.session.execute(
            select(
                lines_table.c.sale_id,
                lines_table.c.product_id,
                lines_table.c.quantity,
                lines_table.c.unit_price_cents,
                lines_table.c.line_total_cents,
            )
            .where(lines_table.c.sale_id.in_(ids))
            .order_by(lines_table.c.sale_id, lines_table.c.id)
        ):
            stored_lines.setdefault(row.sale_id, []).append(tuple(row)[1:])
        changed: set[int] = set()
        for receipt, sale, items in old:
            sale_id = existing[receipt]
            theirs = tuple(naive_utc(sale[c]) for c in columns)
            ours = tuple(naive_utc(v) for v in stored.get(sale_id, ()))
            file_lines = [
                (i["product_id"], i["quantity"], i["unit_price_cents"], i["line_total_cents"]) for i in items
            ]
            if theirs != ours or file_lines != stored_lines.get(sale_id, []):
                changed.add(sale_id)
        return changed
