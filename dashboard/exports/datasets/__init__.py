"""Datasets: what each export type reads, scoped to one business, as raw rows in batches.

A dataset is a query (SQLAlchemy Core, never the ORM object graph) plus its columns. Rows are read
from the database in batches with `yield_per`, so memory stays flat however many rows match.
Adding an export type is one file here and one line in `dashboard/exports/registry.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, func, literal_column, select

from dashboard.exports.columns import Column, build_row_converter
from dashboard.models.pos import Business

BATCH_SIZE = 1000


class Dataset:
    """One export type. Subclasses set the class attributes and implement `columns` and `select`."""

    export_type: str = ""
    title: str = ""  # "Sales", shown in file headers and mails
    file_stem: str = ""  # "sales" -> sales_2024-03-15.csv (dashboard/exports/periods.py)
    count_noun: str = "records"  # "Total: 1,234 sales"

    def columns(self, filters: dict) -> list[Column]:
        raise NotImplementedError

    def for_viewer(self, owner: bool) -> Dataset:
        """The dataset as the person the export is made for may see it (owner or not)."""
        return self

    def select(self, business: Business, filters: dict) -> Select:
        """The rows, in export order, one selected value per column (raw kinds, see columns.py)."""
        raise NotImplementedError

    def count(self, connection: Connection, business: Business, filters: dict) -> int:
        query = self.select(business, filters).order_by(None)
        return int(connection.execute(select(func.count()).select_from(query.subquery())).scalar_one() or 0)

    def raw_batches(
        self,
        connection: Connection,
        business: Business,
        filters: dict,
        *,
        limit: int | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> Iterator[list[tuple]]:
        """Raw rows in lists of at most `batch_size`, streamed from the database."""
        query = self.select(business, filters)
        if limit is not None:
            query = query.limit(limit)
        result = connection.execution_options(stream_results=True, yield_per=batch_size).execute(query)
        try:
            # Lists of Row objects: tuple-like, indexed by the row converter.
            yield from result.partitions()
        finally:
            result.close()

    def rows(
        self,
        connection: Connection,
        business: Business,
        filters: dict,
        *,
        limit: int | None = None,
    ) -> Iterator[tuple]:
        """Typed rows (Decimal money, business-local datetimes), for callers other than the writers."""
        convert = build_row_converter(self.columns(filters), business.timezone or "UTC")
        for batch in self.raw_batches(connection, business, filters, limit=limit):
            yield from map(convert, batch)


def period_bounds(filters: dict, tz: str) -> tuple[datetime | None, datetime | None]:
    """Resolved start_date/end_date (inclusive, local) -> [start, end) as naive UTC datetimes.

    Local midnight of start_date up to local midnight after end_date, converted to UTC, so a day
    follows the business's clock across daylight-saving changes.
    """
    zone = ZoneInfo(tz)

    def midnight_utc(day: date) -> datetime | None:
        try:
            return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 or 9999 in a zone off UTC: no bound on that side
            return None

    start = end = None
    if filters.get("start_date"):
        start = midnight_utc(date.fromisoformat(filters["start_date"]))
    if filters.get("end_date"):
        last = date.fromisoformat(filters["end_date"])
        end = None if last == date.max else midnight_utc(last + timedelta(days=1))
    return start, end


def user_label(users_table) -> object:
    """A user's display name: the name, or the e-mail address when the name is blank."""
    return func.coalesce(func.nullif(users_table.c.name, ""), users_table.c.email)


def empty_text() -> object:
    return literal_column("''")
