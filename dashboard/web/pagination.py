"""Pages of a list for the HTML pages: a page past the end shows the last page rather than an error."""

from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from dashboard.extensions import db


def paginate(stmt: Select, page: int, per_page: int) -> Pagination:
    result = db.paginate(stmt, page=page, per_page=per_page, error_out=False, count=True)
    if not result.items and page > 1 and result.pages:
        result = db.paginate(stmt, page=result.pages, per_page=per_page, error_out=False, count=True)
    return result
