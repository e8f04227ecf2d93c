"""The POS import's CSV side: the columns of each type (docs/pos-schema.md), reading a file, each
cell checked and converted (money to cents, times to UTC), and the report of what was refused."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

BATCH = 2000
MAX_MONEY_CENTS = 10**15

# type -> (required columns, optional columns)
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sales": (
        ("receipt", "created_at", "payment_method"),
        (
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
        ),
    ),
    "customers": (
        ("id", "name"),
        ("email", "phone", "created_at", "visits", "total_spent", "credit_limit", "credit_balance"),
    ),
    "products": (("sku", "name"), ("category", "quantity_on_hand", "unit_cost", "retail_price")),
    "audit": (
        ("id", "created_at", "action"),
        ("user_email", "entity", "entity_id", "details", "ip_address"),
    ),
}
TYPES = tuple(COLUMNS)
SALE_COLUMNS = ("created_at", "payment_method", "status", "customer_id", "cashier_email", "discount", "tax")


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing, not CSV, wrong header): nothing was imported."""


class RowError(ValueError):
    """One row (or one receipt) is refused, with a reason people can act on (and the line at fault,
    when a receipt spans several)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass
class Refusal:
    line: int
    key: str
    reason: str


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    lines: int = 0
    refused: list[Refusal] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        unit = "sales" if self.kind == "sales" else "rows"
        extra = f" ({self.lines:,} lines)" if self.kind == "sales" else ""
        return (
            f"pos import {self.kind}: {self.rows:,} CSV rows read; {self.inserted:,} {unit} added{extra}, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged, {len(self.refused):,} refused, "
            f"in {self.seconds:.1f}s."
        )


# ------------------------------------------------------------------------------------ parsing


def money_cents(value: str, column: str, default: int | None = 0) -> int:
    """A decimal amount ("12.34", "-1.5", "7") in cents; at most two decimals."""
    text = (value or "").strip()
    if not text:
        if default is None:
            raise RowError(f"{column} is required.")
        return default
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RowError(f"{column} {text!r} is not an amount (use 12.34).") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise RowError(f"{column} {text!r} has more than two decimals.")
    cents = int(amount * 100)
    if abs(cents) >= MAX_MONEY_CENTS:
        raise RowError(f"{column} {text!r} is too large.")
    return cents


def int_cell(value: str, column: str, default: int = 0, minimum: int | None = None) -> int:
    text = (value or "").strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        raise RowError(f"{column} {text!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise RowError(f"{column} must be at least {minimum}.")
    if abs(number) > 2**31 - 1:
        raise RowError(f"{column} {text!r} is too large.")
    return number


def text_cell(value: str, column: str, limit: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise RowError(f"{column} is required.")
    if len(text) > limit:
        raise RowError(f"{column} is longer than {limit} characters.")
    return text


def when_cell(value: str, column: str, zone: ZoneInfo, default: datetime | None = None) -> datetime:
    """ISO 8601; with an offset or Z as given, without one in the business's timezone. Naive UTC out."""
    text = (value or "").strip()
    if not text:
        if default is not None:
            return default
        raise RowError(f"{column} is required.")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RowError(f"{column} {text!r} is not an ISO 8601 date-time (2026-11-30T14:05:00Z).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def read_csv(path: Path, kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; ImportFileError for a file that cannot be read."""
    required, optional = COLUMNS[kind]
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [name.strip() for name in (reader.fieldnames or [])]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path} is not a UTF-8 CSV file: {exc}") from None
        if not header:
            raise ImportFileError(f"{path} is empty: a header row is needed.")
        reader.fieldnames = header
        missing = [name for name in required if name not in header]
        unknown = [name for name in header if name not in required + optional]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown column(s) {', '.join(unknown)}")
            raise ImportFileError(
                f"{path}: {'; '.join(parts)}. A {kind} file has {', '.join(required)} "
                f"and optionally {', '.join(optional)} (docs/pos-schema.md)."
            )
        try:
            for row in reader:
                if None in row:  # more cells than header names
                    row = {k: v for k, v in row.items() if k is not None}
                    row["__extra__"] = "1"
                yield reader.line_num, row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path}, line {reader.line_num}: {exc}") from None
