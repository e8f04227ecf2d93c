"""Keyset (cursor) pages of the run lists: the rows after or before one (created_at, id) position.

An OFFSET page makes the database walk every row it skips (page 500 of a filtered list walked
about 70,000 index entries); a cursor page starts at its position in the
(business_id, created_at, id) index and reads only the rows it shows, so page 500 reached by
"next" costs what page 1 does. `?page=N` still works (an OFFSET read); the links a page gives
carry cursors. A cursor is opaque to clients: base64url of a small JSON array holding the
position, the direction and the page number it leads to ("Page 3 of 50" without counting).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, select, tuple_

from dashboard.extensions import db
from dashboard.models.automation import ExportHistory
from dashboard.models.types import GUID, UTCDateTime

__all__ = [
    "KEPT_STATEMENTS",
    "Cursor",
    "CursorPage",
    "InvalidCursor",
    "cursor_page",
    "decode_cursor",
    "encode_cursor",
    "neighbours_of_offset_page",
]

_CREATED = ExportHistory.created_at
_ID = ExportHistory.id


class InvalidCursor(ValueError):
    """A cursor that no page of ours gave out (edited, truncated or from another list)."""


@dataclass(frozen=True)
class Cursor:
    """A position in a run list: `older` pages read the rows after it (older runs), the others
    the rows before it (newer runs). `page` is the number of the page it leads to."""

    created_at: datetime
    id: uuid.UUID
    older: bool
    page: int


def encode_cursor(cursor: Cursor) -> str:
    payload = [
        cursor.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        cursor.id.hex,
        "o" if cursor.older else "n",
        cursor.page,
    ]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The Cursor a link carried; InvalidCursor for anything else (never a 500)."""
    if not isinstance(token, str) or not 0 < len(token) <= 200:
        raise InvalidCursor(token)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created, hex_id, direction, page = json.loads(raw)
        cursor = Cursor(
            created_at=datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC),
            id=uuid.UUID(hex=hex_id),
            older={"o": True, "n": False}[direction],
            page=page,
        )
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError, AttributeError):
        raise InvalidCursor(token) from None
    if type(cursor.page) is not int or not 1 <= cursor.page <= 10**9:
        raise InvalidCursor(token)
    return cursor


@dataclass
class CursorPage:
    """One page of rows and the cursors of its neighbours (None at either end); `total` is how many
    the whole list holds, when the page's reader knows it (services/history.runs_page does)."""

    items: list[Any]
    page: int
    next: Cursor | None
    previous: Cursor | None
    total: int | None = None


# The statements a cursor page runs are built once for each list statement (a business's list with
# its filters is itself kept, services/history.py) with the position as bound parameters: building
# them anew, and SQLAlchemy working out each one's cache key, cost a deep page more CPU than its
# rows did.
_POSITION = tuple_(
    bindparam("position_created_at", type_=UTCDateTime()), bindparam("position_id", type_=GUID())
)
KEPT_STATEMENTS = 256


def _at(created_at: datetime, key: uuid.UUID) -> dict[str, Any]:
    return {"position_created_at": created_at, "position_id": key}


@lru_cache(maxsize=KEPT_STATEMENTS)
def _after(stmt: Select, limit: int | None = None) -> Select:
    """`stmt`'s rows older than the bound position (newest first), at most `limit`."""
    after = stmt.where(tuple_(_CREATED, _ID) < _POSITION)
    return after if limit is None else after.limit(limit)


@lru_cache(maxsize=KEPT_STATEMENTS)
def _before_ascending(stmt: Select, limit: int) -> Select:
    """`stmt`'s rows newer than the bound position, oldest first, at most `limit`."""
    ascending = stmt.order_by(None).order_by(_CREATED.asc(), _ID.asc())
    return ascending.where(tuple_(_CREATED, _ID) > _POSITION).limit(limit)


@lru_cache(maxsize=KEPT_STATEMENTS)
def _exists(stmt: Select, older: bool) -> Select:
    """Is there a row of `stmt` older (else newer) than the bound position? One indexed EXISTS."""
    condition = tuple_(_CREATED, _ID) < _POSITION if older else tuple_(_CREATED, _ID) > _POSITION
    return select(stmt.order_by(None).with_only_columns(_ID).where(condition).exists())


@lru_cache(maxsize=KEPT_STATEMENTS)
def _first(stmt: Select, limit: int) -> Select:
    return stmt.limit(limit)


def _any(stmt: Select, older: bool, created_at: datetime, key: uuid.UUID) -> bool:
    # On the session's connection, not through the ORM: the answer is one plain value.
    return bool(db.session.connection().execute(_exists(stmt, older), _at(created_at, key)).scalar())


def cursor_page(
    stmt: Select,
    cursor: Cursor,
    page_size: int,
    read: Callable[..., list[Any]],
) -> CursorPage:
    """The page `cursor` points at, of `stmt` (a Select over export_history ordered newest first
    by (created_at, id), as `history.list_runs_query` builds it). `read(select, parameters)` runs
    a Select and returns its rows. Reads page_size + 1 rows in the direction of travel (is there
    more that way?); going newer, asks one indexed EXISTS about the older way (retention may have
    taken the rows there)."""
    if cursor.older:
        rows = read(_after(stmt, page_size + 1), _at(cursor.created_at, cursor.id))
        more, rows = len(rows) > page_size, rows[:page_size]
        page = cursor.page
        # Newer rows exist: the cursor's own row, the last of the page before, is newer than
        # these, and only retention deletes runs, oldest first. Should it have taken every newer
        # one, the link back still works: it finds nothing newer and shows the first page.
        # (Asking the database cost each cursor page a sixth of its CPU.)
        newer = bool(rows)
        older = more
    else:
        rows = read(_before_ascending(stmt, page_size + 1), _at(cursor.created_at, cursor.id))
        more, rows = len(rows) > page_size, list(reversed(rows[:page_size]))
        if not more:
            # Back at the newest rows: show a whole first page, not the few left above the cursor.
            rows = read(_first(stmt, page_size), None)
            return CursorPage(rows, 1, _next_of(rows, page_size, 1), None)
        page = max(cursor.page, 2)
        newer = True
        older = bool(rows) and _any(stmt, True, rows[-1].created_at, rows[-1].id)
    if not rows:
        # The position is past the end (its rows were cleaned up): nothing here, a way back.
        back = Cursor(cursor.created_at, cursor.id, older=False, page=max(page - 1, 1))
        return CursorPage([], page, None, back if _any(stmt, False, cursor.created_at, cursor.id) else None)
    return CursorPage(
        rows,
        page,
        Cursor(rows[-1].created_at, rows[-1].id, older=True, page=page + 1) if older else None,
        Cursor(rows[0].created_at, rows[0].id, older=False, page=max(page - 1, 1)) if newer else None,
    )


def _next_of(rows: list[Any], page_size: int, page: int) -> Cursor | None:
    if len(rows) < page_size:
        return None
    last = rows[-1]
    return Cursor(last.created_at, last.id, older=True, page=page + 1)


def neighbours_of_offset_page(
    stmt: Select, rows: list[Any], page: int, page_size: int, count: int
) -> tuple[Cursor | None, Cursor | None]:
    """The (next, previous) cursors of a page read by OFFSET (`?page=N`), from its own first and
    last rows and the known count: following them is a keyset read."""
    nxt = prev = None
    if rows and (page - 1) * page_size + len(rows) < count:
        nxt = Cursor(rows[-1].created_at, rows[-1].id, older=True, page=page + 1)
    if rows and page > 1:
        prev = Cursor(rows[0].created_at, rows[0].id, older=False, page=page - 1)
    return nxt, prev
