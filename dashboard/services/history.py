"""Run history: filtered lists, pagination, recent runs and statistics.

Statistics are SQL aggregates (COUNT/SUM over CASE, GROUP BY): a business with a million runs costs
a few index range scans, never a million Python objects. Dates a person picks ("from 1 March")
are days in the business's timezone, turned into UTC bounds here so that the
(business_id, created_at) index answers them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, case, func, literal_column, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import defer, joinedload

from dashboard.extensions import db
from dashboard.models.automation import (
    EXPORT_TYPES,
    FORMATS,
    STATUS_FAILED,
    SUCCESS_STATUSES,
    ExportHistory,
    ExportSchedule,
)
from dashboard.models.history_counts import COUNTED_COLUMNS, REBUILD_SQL, ExportHistoryCount
from dashboard.models.pos import Business, User
from dashboard.models.types import GUID, UTCDateTime
from dashboard.services.errors import PageNotFound
from dashboard.services.keyset import (
    Cursor,
    CursorPage,
    cursor_page,
    encode_cursor,
    neighbours_of_offset_page,
)
from dashboard.services.validation import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from dashboard.tenancy import get_scoped

__all__ = [
    "DAILY_DAYS",
    "count_history",
    "rebuild_history_counts",
    "get_history",
    "ListedRun",
    "history_query",
    "list_runs_query",
    "local_day_start",
    "page_items",
    "paginate",
    "paginate_runs",
    "runs_page",
    "recent_history",
    "statistics",
]

DAILY_DAYS = 30
RECENT_WINDOW = timedelta(days=7)
_MB = 1024 * 1024  # as ExportHistory.file_size_mb and the "1.5 MB" display


def _zone(business: Business) -> ZoneInfo:
    try:
        return ZoneInfo(business.timezone or "UTC")
    except (ValueError, OSError):
        return ZoneInfo("UTC")


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) of a calendar day in `zone`.

    `fold=0` on a midnight that a DST change skips (e.g. America/Santiago) gives the transition
    instant itself, which is when that local day begins.
    """
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _with_relations(stmt: Select) -> Select:
    # The presenters read the user's and the schedule's names: joined into the page's own query
    # (many-to-one, so no row is repeated), not one more query each. A list never shows the
    # traceback, the one large text a run has: it is read only when a detail view asks.
    # Of the user and the schedule only what a row shows is read (a schedule has 25 columns).
    return stmt.options(
        joinedload(ExportHistory.user).load_only(User.name, User.email),
        joinedload(ExportHistory.schedule).load_only(ExportSchedule.name),
        defer(ExportHistory.error_traceback),
    )


def _filtered(stmt: Select, business: Business, filters: dict[str, Any] | None) -> Select:
    """`stmt` over export_history narrowed to the business's runs matching `filters`, newest first."""
    filters = filters or {}
    stmt = stmt.where(ExportHistory.business_id == business.id)
    for field in ("export_type", "format", "status", "trigger"):
        if filters.get(field):
            stmt = stmt.where(getattr(ExportHistory, field) == filters[field])
    if filters.get("schedule_id"):
        stmt = stmt.where(ExportHistory.schedule_id == filters["schedule_id"])
    zone = _zone(business)
    if filters.get("start_date"):
        stmt = stmt.where(ExportHistory.created_at >= local_day_start(filters["start_date"], zone))
    if filters.get("end_date"):
        end = local_day_start(filters["end_date"] + timedelta(days=1), zone)
        stmt = stmt.where(ExportHistory.created_at < end)
    return stmt.order_by(ExportHistory.created_at.desc(), ExportHistory.id.desc())


def history_query(business: Business, filters: dict[str, Any] | None = None) -> Select:
    """The business's runs (ExportHistory objects), newest first, filtered by
    `validate_history_params` output (export_type, format, status, trigger, schedule_id,
    start_date, end_date; other keys are ignored).

    start_date/end_date are inclusive days of `created_at` in the business's timezone.
    """
    return _with_relations(_filtered(select(ExportHistory), business, filters))


# What a list row reads: every column but the traceback, and the user's and schedule's names.
_LISTED_COLUMNS = [column for column in ExportHistory.__table__.c if column.key != "error_traceback"]


def list_runs_query(business: Business, filters: dict[str, Any] | None = None) -> Select:
    """The runs `history_query` selects, as plain rows for the history lists (wrap each in
    `ListedRun`): a page of 20 read as ORM objects cost twice what the rows themselves cost."""
    stmt = (
        select(
            *_LISTED_COLUMNS,
            User.name.label("listed_user_name"),
            User.email.label("listed_user_email"),
            ExportSchedule.name.label("listed_schedule_name"),
        )
        .outerjoin(User, User.id == ExportHistory.user_id)
        .outerjoin(ExportSchedule, ExportSchedule.id == ExportHistory.schedule_id)
    )
    return _filtered(stmt, business, filters)


class ListedRun:
    """A run of `list_runs_query` as the presenters read it: the run's columns as attributes,
    `user` and `schedule` with the names a row shows, and ExportHistory's derived properties."""

    duration_seconds = ExportHistory.duration_seconds
    file_size_mb = ExportHistory.file_size_mb
    is_downloadable = ExportHistory.is_downloadable

    def __init__(self, row: Any) -> None:
        values = row._asdict()
        user_name = values.pop("listed_user_name")
        user_email = values.pop("listed_user_email")
        schedule_name = values.pop("listed_schedule_name")
        self.__dict__.update(values)
        self.user = SimpleNamespace(display_name=user_name or user_email) if user_email is not None else None
        self.schedule = SimpleNamespace(name=schedule_name) if schedule_name is not None else None


def _count_rows(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def count_history(business: Business, filters: dict[str, Any] | None = None) -> int:
    """How many runs `history_query(business, filters)` lists.

    Filters on export_type, format, status and trigger only (or none) are answered from the
    trigger-kept export_history_counts (at most 180 rows a business, see
    models/history_counts.py); a schedule or a date range counts the runs themselves.
    """
    filters = filters or {}
    if any(filters.get(key) for key in ("schedule_id", "start_date", "end_date")):
        return _count_rows(history_query(business, filters))
    stmt = select(func.coalesce(func.sum(ExportHistoryCount.runs), 0)).where(
        ExportHistoryCount.business_id == business.id
    )
    for column in COUNTED_COLUMNS:
        if filters.get(column):
            stmt = stmt.where(getattr(ExportHistoryCount, column) == filters[column])
    return int(db.session.scalar(stmt) or 0)


def rebuild_history_counts() -> dict[str, int]:
    """Recount export_history_counts from the runs (`flask exports recount`): the triggers keep it
    exact, but a hand-made change with the triggers missing (a restore into a schema built
    without them, say) would leave it wrong. Returns how many kept counts were wrong and the
    totals now kept."""
    key = (
        ExportHistoryCount.business_id,
        *(getattr(ExportHistoryCount, column) for column in COUNTED_COLUMNS),
    )
    before = {tuple(row[:-1]): row[-1] for row in db.session.execute(select(*key, ExportHistoryCount.runs))}
    for statement in REBUILD_SQL:
        db.session.execute(text(statement))
    after = {tuple(row[:-1]): row[-1] for row in db.session.execute(select(*key, ExportHistoryCount.runs))}
    db.session.commit()
    wrong = sum(1 for k in before.keys() | after.keys() if before.get(k, 0) != after.get(k, 0))
    return {"corrected": wrong, "runs": sum(after.values()), "businesses": len({k[0] for k in after})}


def get_history(business: Business, history_id: object) -> ExportHistory | None:
    """The business's run with this id; None for a missing, foreign or malformed id."""
    return get_scoped(ExportHistory, history_id, business.id)


def recent_history(business: Business, limit: int = 10) -> list[ExportHistory]:
    """The business's last `limit` runs, newest first."""
    return list(db.session.scalars(history_query(business).limit(limit)))


# From this offset on, a page's rows are found by id first (see page_items).
DEFERRED_JOIN_OFFSET = 200


def page_items(stmt: Select, limit: int, offset: int) -> list[Any]:
    """`limit` items of a Select from `offset` on, in the Select's order: objects of an ORM Select
    of one entity, rows of a Select of columns (such as `list_runs_query`).

    A deep page (page 500 is offset 9,980) is read in two steps: the ids of the page, from the
    covering index alone (filters, order and the skipped rows all live there), then the page's
    rows by id. In one step PostgreSQL fetched every skipped row from the table (10,000 heap rows
    and a sort, for 20 shown). The id is the entity's one-column primary key, or a column Select's
    first column when that is its table's primary key; anything else, and shallow pages, are read
    in one step.
    """
    entities = stmt.column_descriptions
    mapper = sa_inspect(entities[0]["entity"], raiseerr=False) if len(entities) == 1 else None
    if mapper is not None:
        key = mapper.primary_key[0] if len(mapper.primary_key) == 1 else None

        def read(query: Select) -> list[Any]:
            return list(db.session.scalars(query))

    else:
        first = stmt.selected_columns[0]
        key = first if getattr(first, "primary_key", False) else None

        def read(query: Select) -> list[Any]:
            return list(db.session.execute(query))

    if offset < DEFERRED_JOIN_OFFSET or key is None:
        return read(stmt.limit(limit).offset(offset))
    ids = list(db.session.scalars(stmt.with_only_columns(key).limit(limit).offset(offset)))
    if not ids:
        return []
    # The same Select (filters, order, loader options) narrowed to those ids: they come back in
    # the page's order without sorting anything but themselves.
    return read(stmt.where(key.in_(ids)))


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
    page_size = max(1, min(int(page_size or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    if count is None:
        count = _count_rows(stmt)
    offset = (page - 1) * page_size
    if page > 1 and offset >= count:
        raise PageNotFound(f"Page {page} is past the end ({count} results).")
    items = page_items(stmt, page_size, offset)
    return {
        "count": count,
        "next": url_for_page(page + 1) if offset + page_size < count else None,
        "previous": url_for_page(page - 1) if page > 1 else None,
        "results": [present(item) for item in items] if present else items,
    }


def paginate_runs(
    stmt: Select,
    params: dict[str, Any],
    url_for_cursor: Callable[[str], str],
    present: Callable[[Any], Any],
    count: int,
) -> dict[str, Any]:
    """{"count", "next", "previous", "results"} for one page of a run list (`list_runs_query`),
    by `params["cursor"]` when a link carried one, else by `params["page"]`. The next and
    previous links always carry cursors (see services/keyset.py): a client walking a list
    never pays for the rows it skipped. A page number past the end raises PageNotFound."""
    page_size = max(1, min(int(params.get("page_size") or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    found = runs_page(stmt, params.get("page") or 1, params.get("cursor"), page_size, count)
    return {
        "count": count,
        "next": url_for_cursor(encode_cursor(found.next)) if found.next else None,
        "previous": url_for_cursor(encode_cursor(found.previous)) if found.previous else None,
        "results": [present(row) for row in found.items],
    }


def runs_page(stmt: Select, page: int, cursor: Cursor | None, page_size: int, count: int) -> CursorPage:
    """One page of a run list (rows of `list_runs_query`) with its neighbours' cursors: by cursor
    when there is one, else page `page` by OFFSET. A page number past the end raises
    PageNotFound (page 1 of an empty list is an empty page)."""

    def read(query: Select) -> list[Any]:
        return list(db.session.execute(query))

    if cursor is not None:
        return cursor_page(stmt, cursor, page_size, read)
    page = max(1, int(page))
    offset = (page - 1) * page_size
    if page > 1 and offset >= count:
        raise PageNotFound(f"Page {page} is past the end ({count} results).")
    rows = page_items(stmt, page_size, offset)
    nxt, previous = neighbours_of_offset_page(stmt, rows, page, page_size, count)
    return CursorPage(rows, page, nxt, previous)


# --------------------------------------------------------------------------------------------
# Statistics


_SUCCESS = case((ExportHistory.status.in_(SUCCESS_STATUSES), 1), else_=0)
_FAILED = case((ExportHistory.status == STATUS_FAILED, 1), else_=0)


def _counts(total: int | None, successful: int | None, failed: int | None) -> dict[str, int]:
    return {"total": int(total or 0), "successful": int(successful or 0), "failed": int(failed or 0)}


def _grouped_statement(since: bool) -> Select:
    """Runs per (type, format, status), with how many have a file and their bytes.

    Grouping by the bare columns (no CASE per row) lets the (business_id, export_type, format,
    status, created_at, file_size) index answer it alone, in its own order: a business with
    100,000 runs is one index range scan into at most 60 groups, never a table read or a sort.
    """
    stmt = select(
        ExportHistory.export_type,
        ExportHistory.format,
        ExportHistory.status,
        func.count(),
        func.sum(case((ExportHistory.file_size > 0, 1), else_=0)),
        func.sum(case((ExportHistory.file_size > 0, ExportHistory.file_size), else_=0)),
    ).where(ExportHistory.business_id == bindparam("business_id", type_=GUID()))
    if since:
        stmt = stmt.where(ExportHistory.created_at >= bindparam("since", type_=UTCDateTime()))
    return stmt.group_by(ExportHistory.export_type, ExportHistory.format, ExportHistory.status)


def _day_of(created_at, bounds: list, first: int, last: int):
    """The index of the local day (first .. last-1) a time falls in, as a CASE that halves the
    range at each level: 5 comparisons a row for 30 days, not up to 30."""
    if last - first == 1:
        return literal_column(str(first))
    middle = (first + last) // 2
    return case(
        (created_at < bounds[middle], _day_of(created_at, bounds, first, middle)),
        else_=_day_of(created_at, bounds, middle, last),
    )


def _daily_statement() -> Select:
    """Runs per local day of the last DAILY_DAYS (and the 7 x 24 hour count), from UTC bounds.

    Each row's local day is the index of the UTC range it falls in (`day_0` .. `day_N` are the
    local midnights): DST-correct and portable (SQLite knows no IANA zones). Rows from the end of
    today on fall into bucket DAILY_DAYS, which counts for `recent` only. Bucketed in a subquery,
    grouped outside: PostgreSQL would not match a GROUP BY expression whose bound parameters are
    numbered apart from the SELECT's. Built once with named parameters: constructing the CASE on
    every call cost more than running it.
    """
    bounds = [bindparam(f"day_{i}", type_=UTCDateTime()) for i in range(DAILY_DAYS + 1)]
    created_at = ExportHistory.created_at
    bucket = case(
        (created_at >= bounds[DAILY_DAYS], literal_column(str(DAILY_DAYS))),
        else_=_day_of(created_at, bounds, 0, DAILY_DAYS),
    ).label("day")
    recent = case((created_at >= bindparam("recent_from", type_=UTCDateTime()), 1), else_=0)
    rows = (
        select(bucket, _SUCCESS.label("ok"), _FAILED.label("ko"), recent.label("recent"))
        .where(
            ExportHistory.business_id == bindparam("business_id", type_=GUID()),
            created_at >= bounds[0],
        )
        .subquery()
    )
    return select(
        rows.c.day, func.count(), func.sum(rows.c.ok), func.sum(rows.c.ko), func.sum(rows.c.recent)
    ).group_by(rows.c.day)


_GROUPED = _grouped_statement(since=False)
_GROUPED_SINCE = _grouped_statement(since=True)
_DAILY = _daily_statement()


def _daily(business: Business, now: datetime, recent_from: datetime) -> tuple[list[dict[str, Any]], int]:
    """The `daily` list and the number of runs created from `recent_from` on (which is always
    inside the daily window: 7 x 24 hours back is later than the first of 30 local days)."""
    zone = _zone(business)
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=DAILY_DAYS - 1 - i) for i in range(DAILY_DAYS)]
    bounds = [local_day_start(day, zone) for day in days] + [local_day_start(today + timedelta(days=1), zone)]
    params: dict[str, Any] = {f"day_{i}": bound for i, bound in enumerate(bounds)}
    params.update(business_id=business.id, recent_from=recent_from)
    found: dict[int, dict[str, int]] = {}
    recent = 0
    for day, total, ok, ko, recent_n in db.session.execute(_DAILY, params):
        recent += int(recent_n or 0)
        if int(day) < DAILY_DAYS:
            found[int(day)] = _counts(total, ok, ko)
    daily = [{"date": day.isoformat(), **found.get(i, _counts(0, 0, 0))} for i, day in enumerate(days)]
    return daily, recent


def statistics(
    business: Business, now: datetime | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """The seed's statistics, as the contract defines them, plus "daily".

    Successful = COMPLETED + EMAILED, failed = FAILED; PENDING/PROCESSING count in the totals only.
    `success_rate` is 100 x successful / (successful + failed) to one decimal, null when nothing
    has finished. `average_file_size_mb` is over runs with a file (file_size > 0), in MB of 1,024 KB,
    two decimals, 0.0 when there is none. `by_type` and `by_format` list every type and format,
    zero-filled, so that charts and clients see stable keys. `daily` is 30 entries, oldest first,
    one per calendar day in the business's timezone ending today, zero-filled.
    `since` (optional, e.g. for a weekly summary) limits every figure but `daily` to runs created
    from then on.
    """
    now = datetime.now(UTC) if now is None else now
    recent_from = now - RECENT_WINDOW if since is None else max(now - RECENT_WINDOW, since)
    if since is None:
        groups = db.session.execute(_GROUPED, {"business_id": business.id})
    else:
        groups = db.session.execute(_GROUPED_SINCE, {"business_id": business.id, "since": since})

    # At most 4 types x 3 formats x 5 statuses rows, added up here for the totals, by_type and
    # by_format.
    totals = _counts(0, 0, 0)
    by_type = {key: _counts(0, 0, 0) for key in EXPORT_TYPES}
    by_format = {key: _counts(0, 0, 0) for key in FORMATS}
    files = size_sum = 0
    for export_type, fmt, status, total, files_n, size_n in groups:
        total = int(total or 0)
        group = _counts(
            total,
            total if status in SUCCESS_STATUSES else 0,
            total if status == STATUS_FAILED else 0,
        )
        # A value outside the choices (none today) is still shown rather than lost.
        for bucket in (
            totals,
            by_type.setdefault(export_type, _counts(0, 0, 0)),
            by_format.setdefault(fmt, _counts(0, 0, 0)),
        ):
            for key, value in group.items():
                bucket[key] += value
        files += int(files_n or 0)
        size_sum += int(size_n or 0)
    daily, recent_count = _daily(business, now, recent_from)
    finished = totals["successful"] + totals["failed"]
    return {
        "total_exports": totals["total"],
        "successful_exports": totals["successful"],
        "failed_exports": totals["failed"],
        "success_rate": round(100 * totals["successful"] / finished, 1) if finished else None,
        "by_type": by_type,
        "by_format": by_format,
        "recent_exports_7_days": recent_count,
        "average_file_size_mb": round(size_sum / files / _MB, 2) if files else 0.0,
        "daily": daily,
    }


def average_file_size_by_format(business: Business) -> dict[str, float | None]:
    """Average file size in MB of the runs with a file, per format, every format listed (None
    where none has a file yet): the statistics page's size chart.

    (Added by the web dashboard's engineer: one GROUP BY over the business's runs.)
    """
    stmt = (
        select(ExportHistory.format, func.avg(ExportHistory.file_size))
        .where(ExportHistory.business_id == business.id, ExportHistory.file_size > 0)
        .group_by(ExportHistory.format)
    )
    result: dict[str, float | None] = dict.fromkeys(FORMATS)
    for fmt, average in db.session.execute(stmt):
        result[fmt] = float(average) / _MB if average else None
    return result
