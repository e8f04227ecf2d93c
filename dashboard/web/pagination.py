"""Pages of a list for the HTML pages: a page past the end shows the last page rather than an error."""

from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination, SelectPagination
from sqlalchemy import Select

from dashboard.extensions import db
from dashboard.services.history import page_items


class _Pagination(SelectPagination):
    # Deep pages read their rows by id from the covering index first, as the API's lists do.
    def _query_items(self) -> list:
        return page_items(self._query_args["select"], self.per_page, self._query_offset)

    def _query_count(self) -> int:
        known = self._query_args.get("known_count")
        return known if known is not None else super()._query_count()


def _page(stmt: Select, page: int, per_page: int, count: int | None) -> Pagination:
    return _Pagination(
        select=stmt,
        session=db.session,
        page=page,
        per_page=per_page,
        error_out=False,
        count=True,
        known_count=count,
    )


def paginate(stmt: Select, page: int, per_page: int, count: int | None = None) -> Pagination:
    """One page of `stmt`; `count`, when the caller knows it, saves counting the rows."""
    result = _page(stmt, page, per_page, count)
    if not result.items and page > 1 and result.pages:
        result = _page(stmt, result.pages, per_page, count)
    return result
