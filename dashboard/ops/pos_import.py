"""Loading point-of-sale data from CSV: sales (with their lines), customers, products, audit entries.

docs/pos-schema.md is the contract: the tables the exporters read, and the CSV columns below. Every
row is validated on its own; a bad row is refused with its line number and reason and never stops
the others (a sale is one unit: one bad line refuses the whole receipt). Imports are idempotent on
the POS's own ids: the receipt number (sales), the SKU (products), `id` (customers and audit entries,
kept in `external_id`). Importing the same file twice changes nothing; a changed row updates the
stored one (sales: columns and lines replaced), except audit entries, which are append-only.

Rows are written in batches with Core statements (no ORM objects): 100,000 sales with their lines
load in well under a minute (`make bench`, part `pos`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, update

from dashboard.core.collector import collector_paused
from dashboard.extensions import db
from dashboard.models.pos import (
    AuditLog,
    Business,
    Customer,
    Product,
    User,
)
from dashboard.ops.pos_bulk import naive_utc
from dashboard.ops.pos_rows import (
    BATCH,
    COLUMNS,
    TYPES,
    ImportFileError,
    ImportReport,
    Refusal,
    RowError,
    int_cell,
    money_cents,
    read_csv,
    text_cell,
    when_cell,
)
from dashboard.ops.pos_sales import SalesImport

__all__ = ["COLUMNS", "TYPES", "ImportFileError", "ImportReport", "PosImporter", "Refusal", "import_file"]


class PosImporter(SalesImport):
    def __init__(self, business: Business):
        self.business = business
        self.zone = ZoneInfo(business.timezone or "UTC")
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self._users: dict[str, uuid.UUID] | None = None

    # -- lookups --------------------------------------------------------------------------------
    def user_ids(self) -> dict[str, uuid.UUID]:
        if self._users is None:
            rows = db.session.execute(select(func.lower(User.email), User.id)).all()
            self._users = {email: user_id for email, user_id in rows}
        return self._users

    def _user(self, email: str, column: str) -> uuid.UUID | None:
        email = (email or "").strip().lower()
        if not email:
            return None
        user_id = self.user_ids().get(email)
        if user_id is None:
            raise RowError(f"{column} {email!r} is not a known user (flask users create, or leave it empty).")
        return user_id

    def _map(self, column, key) -> dict[str, Any]:
        rows = db.session.execute(
            select(key, column).where(key.table.c.business_id == self.business.id, key.is_not(None))
        ).all()
        return {k: v for k, v in rows}

    # -- entry point ------------------------------------------------------------------------------
    def run(self, kind: str, path: Path) -> ImportReport:
        if kind not in COLUMNS:
            raise ImportFileError(f"unknown type {kind!r}; one of {', '.join(TYPES)}.")
        started = time.perf_counter()
        report = ImportReport(kind)
        rows = read_csv(Path(path), kind)
        # Hundreds of thousands of short-lived dicts: the cyclic collector would rescan every
        # surviving one again and again (superlinear time). Nothing here makes cycles.
        with collector_paused():
            try:
                {
                    "sales": self._sales,
                    "customers": self._customers,
                    "products": self._products,
                    "audit": self._audit,
                }[kind](rows, report)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
        report.seconds = time.perf_counter() - started
        return report

    @staticmethod
    def _refuse(report: ImportReport, line: int, key: str, reason: str) -> None:
        report.refused.append(Refusal(line, key, reason))

    # -- customers and products: one row a record, keyed by the POS's own id or the SKU ------------
    def _customers(self, rows: Iterable[tuple[int, dict]], report: ImportReport) -> None:
        def values(row: dict) -> dict:
            found = {
                "name": text_cell(row.get("name"), "name", 255, required=True),
                "email": text_cell(row.get("email"), "email", 254),
                "phone": text_cell(row.get("phone"), "phone", 64),
                # Empty: now for a new customer; an existing one keeps its date.
                "created_at": when_cell(row.get("created_at"), "created_at", self.zone)
                if (row.get("created_at") or "").strip()
                else None,
                "visits": int_cell(row.get("visits"), "visits", minimum=0),
                "total_spent_cents": money_cents(row.get("total_spent"), "total_spent"),
                "credit_limit_cents": money_cents(row.get("credit_limit"), "credit_limit"),
                "credit_balance_cents": money_cents(row.get("credit_balance"), "credit_balance"),
            }
            if found["email"] and "@" not in found["email"]:
                raise RowError(f"email {found['email']!r} is not an e-mail address.")
            return found

        self._keyed(rows, report, Customer.__table__, "external_id", "id", values)

    def _products(self, rows: Iterable[tuple[int, dict]], report: ImportReport) -> None:
        def values(row: dict) -> dict:
            return {
                "name": text_cell(row.get("name"), "name", 255, required=True),
                "category": text_cell(row.get("category"), "category", 128),
                "quantity_on_hand": int_cell(row.get("quantity_on_hand"), "quantity_on_hand"),
                "unit_cost_cents": money_cents(row.get("unit_cost"), "unit_cost"),
                "retail_price_cents": money_cents(row.get("retail_price"), "retail_price"),
            }

        self._keyed(rows, report, Product.__table__, "sku", "sku", values)

    def _keyed(
        self,
        rows: Iterable[tuple[int, dict]],
        report: ImportReport,
        table,
        key_column: str,
        csv_key: str,
        values_of,
    ) -> None:
        """Insert the records not seen before and update the others, matched on `key_column`
        (read from the file's `csv_key` column); a row that fails `values_of` is refused."""
        existing = self._map(table.c.id, table.c[key_column])
        seen: set[str] = set()
        batch_new: list[dict] = []
        batch_update: list[dict] = []
        for line, row in rows:
            report.rows += 1
            key = (row.get(csv_key) or "").strip()
            try:
                if row.get("__extra__"):
                    raise RowError("more cells than columns in the header.")
                external = text_cell(key, csv_key, 64, required=True)
                if external in seen:
                    raise RowError(f"{csv_key} {external!r} appears twice in this file.")
                values = values_of(row)
            except RowError as exc:
                self._refuse(report, line, key, str(exc))
                continue
            seen.add(external)
            if external in existing:
                batch_update.append({"_id": existing[external], **values})
            else:
                batch_new.append({"business_id": self.business.id, key_column: external, **values})
            if len(batch_new) + len(batch_update) >= BATCH:
                self._write_simple(table, batch_new, batch_update, report)
        self._write_simple(table, batch_new, batch_update, report)

    def _write_simple(self, table, new: list[dict], changed: list[dict], report: ImportReport) -> None:
        for row in new:
            if "created_at" in row and row["created_at"] is None:
                row["created_at"] = self.now
        if new:
            db.session.execute(insert(table), new)
            report.inserted += len(new)
            new.clear()
        if changed:
            columns = [name for name in changed[0] if name != "_id"]
            # Only rows that differ are written (and counted as updated): a re-import is a no-op.
            current = {
                row.id: row
                for row in db.session.execute(
                    select(table.c.id, *[table.c[name] for name in columns]).where(
                        table.c.id.in_([r["_id"] for r in changed])
                    )
                )
            }
            for r in changed:
                if "created_at" in r and r["created_at"] is None:
                    r["created_at"] = naive_utc(current[r["_id"]].created_at)
            differing = [
                r
                for r in changed
                if tuple(naive_utc(getattr(current[r["_id"]], c)) for c in columns)
                != tuple(r[c] for c in columns)
            ]
            if differing:
                statement = (
                    update(table)
                    .where(table.c.id == bindparam("_id"))
                    .values({name: bindparam(name) for name in columns})
                )
                db.session.connection().execute(statement, differing)
            report.updated += len(differing)
            report.unchanged += len(changed) - len(differing)
            changed.clear()

    # -- audit entries ----------------------------------------------------------------------------
    def _audit(self, rows: Iterable[tuple[int, dict]], report: ImportReport) -> None:
        table = AuditLog.__table__
        existing = set(self._map(table.c.id, table.c.external_id))
        batch: list[dict] = []
        for line, row in rows:
            report.rows += 1
            key = (row.get("id") or "").strip()
            try:
                if row.get("__extra__"):
                    raise RowError("more cells than columns in the header.")
                external = text_cell(key, "id", 64, required=True)
                values = {
                    "business_id": self.business.id,
                    "external_id": external,
                    "created_at": when_cell(row.get("created_at"), "created_at", self.zone),
                    "user_id": self._user(row.get("user_email"), "user_email"),
                    "action": text_cell(row.get("action"), "action", 64, required=True),
                    "entity": text_cell(row.get("entity"), "entity", 64),
                    "entity_id": text_cell(row.get("entity_id"), "entity_id", 64),
                    "details": text_cell(row.get("details"), "details", 10_000),
                    "ip_address": text_cell(row.get("ip_address"), "ip_address", 64),
                }
            except RowError as exc:
                self._refuse(report, line, key, str(exc))
                continue
            if external in existing:
                report.unchanged += 1  # append-only: an entry once written is never changed
                continue
            existing.add(external)
            batch.append(values)
            if len(batch) >= BATCH:
                db.session.execute(insert(table), batch)
                report.inserted += len(batch)
                batch.clear()
        if batch:
            db.session.execute(insert(table), batch)
            report.inserted += len(batch)


def import_file(business: Business, kind: str, path: Path) -> ImportReport:
    return PosImporter(business).run(kind, Path(path))
