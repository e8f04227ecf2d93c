"""Pages of any list by page number: the rows of one page (deep pages by id first), the API's
{"count", "next", "previous", "results"} and the pages' `Page`. Run lists also page by cursor
(services/keyset.py); the arithmetic is dashboard/core/pagination.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy import inspect as sa_inspect

from dashboard.core.errors import PageNotFound
from dashboard.core.pagination import (
    Page,
    clamp_page_size,
    is_past_the_end,
    offset_of,
    page_count,
)
from dashboard.extensions import db

__all__ = [
    "DEFERRED_JOIN_OFFSET",
    "count_rows",
    "page_items",
    "page_of",
    "paginate",
    "past_the_end",
    "reads_by_id",
]


def count_rows(stmt: Select) -> int:
    """How many rows a Select returns (counted by the database, not read)."""
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def past_the_end(page: int, count: int) -> PageNotFound:
    return PageNotFound(f"Page {page} is past the end ({count} results).", count)


# From this offset on, a page's rows are found by id first (see page_items).
DEFERRED_JOIN_OFFSET = 200


def reads_by_id(offset: int) -> bool:
    """Whether page_items reads a page starting at `offset` by its ids first (a deep page)."""
    return offset >= DEFERRED_JOIN_OFFSET


def page_items(
    stmt: Select,
    limit: int,
    offset: int,
    read_rows: Callable[[Select], list[Any]] | None = None,
    ids: Select | None = None,
) -> list[Any]:
    """`limit` items of a Select from `offset` on, in the Select's order: objects of an ORM Select
    of one entity, rows of a Select of columns (such as `list_runs_query`).

    A deep page (page 500 is offset 9,980) is read in two steps: the ids of the page, from the
    covering index alone (filters, order and the skipped rows all live there), then the page's
    rows by id. In one step PostgreSQL fetched every skipped row from the table (10,000 heap rows
    and a sort, for 20 shown). The id is the entity's one-column primary key, or a column Select's
    first column when that is its table's primary key; anything else, and shallow pages, are read
    in one step. `read_rows` reads a Select of columns (the caller knows it is one: working out
    what a Select holds costs a tenth of a millisecond). `ids`, when the caller has one, selects
    the same ids in the same order more cheaply than `stmt` narrowed to its key does (the run
    lists: from export_history alone, see services/history.py).
    """
    if read_rows is not None:
        mapper, read = None, read_rows
    else:
        entities = stmt.column_descriptions
        mapper = sa_inspect(entities[0]["entity"], raiseerr=False) if len(entities) == 1 else None
    if mapper is not None:
        key = mapper.primary_key[0] if len(mapper.primary_key) == 1 else None

        def read(query: Select) -> list[Any]:
            return list(db.session.scalars(query))

    else:
        first = stmt.selected_columns[0]
        key = first if getattr(first, "primary_key", False) else None
        if read_rows is None:

            def read(query: Select) -> list[Any]:
                return list(db.session.execute(query))

    if not reads_by_id(offset) or key is None:
        return read(_window(stmt, limit, offset))
    id_query = stmt.with_only_columns(key) if ids is None else ids
    found = list(db.session.scalars(id_query.limit(limit).offset(offset)))
    if not found:
        return []
    # The same Select (filters, order, loader options) narrowed to those ids: they come back in
    # the page's order without sorting anything but themselves.
    return read(stmt.where(key.in_(found)))


@lru_cache(maxsize=128)
def _window(stmt: Select, limit: int, offset: int) -> Select:
    # Kept: a kept list statement (services/history.py) read at the same page again reuses its
    # windowed copy and the cache key SQLAlchemy worked out for it (a tenth of a millisecond).
    return stmt.limit(limit).offset(offset)


def paginate(
    stmt: Select,
    page: int,
    page_size: int,
    url_for_page: Callable[[int], str],
    present: Callable[[Any], Any] | None = None,
    count: int | None = None,
) -> dict[str, Any]:
    """{"count", "next", "previous", "results"} for one page of an ORM Select.

    `url_for_page(n)` builds the absolute URL of page n (the caller keeps its other query
    parameters); `present` turns each object into what `results` holds (default: the objects).
    Page 1 of an empty list is an empty page; any other page past the end raises PageNotFound.
    `page_size` is clamped to 1..100. `count`, when the caller knows it (`count_history`), saves
    counting the Select's rows.
    """
    page = max(1, int(page))
    page_size = clamp_page_size(page_size)
    if count is None:
        count = count_rows(stmt)
    offset = offset_of(page, page_size)
    if is_past_the_end(page, page_size, count):
        raise past_the_end(page, count)
    items = page_items(stmt, page_size, offset)
    return {
        "count": count,
        "next": url_for_page(page + 1) if offset + page_size < count else None,
        "previous": url_for_page(page - 1) if page > 1 else None,
        "results": [present(item) for item in items] if present else items,
    }


def page_of(stmt: Select, page: int, per_page: int, count: int | None = None) -> Page:
    """One page of an ORM Select for the dashboard's lists; a page past the end shows the last page
    rather than an error. `count`, when the caller knows it, saves counting the rows."""
    total = count_rows(stmt) if count is None else count
    page = max(1, int(page))
    if is_past_the_end(page, per_page, total):
        page = max(1, page_count(total, per_page))
    return Page(page_items(stmt, per_page, offset_of(page, per_page)), page, per_page, total)
