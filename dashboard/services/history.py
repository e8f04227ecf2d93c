"""Run history: filtered lists, their counts and pages (by page number or cursor), recent runs.

Dates a person picks ("from 1 March") are days in the business's timezone, turned into UTC bounds
here so that the (business_id, created_at) index answers them. Statistics live in
services/statistics.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, bindparam, func, null, select, text, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import defer, joinedload, selectinload
from sqlalchemy.sql.elements import Null
from sqlalchemy.types import NullType

from dashboard.core.content_cache import ContentCache, content_key
from dashboard.core.pagination import clamp_page_size, is_past_the_end, offset_of
from dashboard.extensions import db
from dashboard.models.automation import (
    ExportHistory,
    ExportRunFile,
    ExportSchedule,
)
from dashboard.models.history_counts import COUNTED_COLUMNS, REBUILD_SQL, ExportHistoryCount
from dashboard.models.pos import Business, User
from dashboard.run_record import history_to_dict
from dashboard.services.keyset import (
    KEPT_STATEMENTS,
    Cursor,
    CursorPage,
    cursor_page,
    encode_cursor,
    neighbours_of_offset_page,
)
from dashboard.services.pages import count_rows, page_items, past_the_end, reads_by_id
from dashboard.tenancy import get_scoped

__all__ = [
    "LIST_FILTERS",
    "count_history",
    "rebuild_history_counts",
    "get_history",
    "ListedRun",
    "listed_runs",
    "history_query",
    "list_runs_query",
    "local_day_start",
    "paginate_runs",
    "present_listed",
    "runs_page",
    "recent_history",
]


def _zone(business: Business) -> ZoneInfo:
    return _zone_named(business.timezone)


def _zone_named(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, OSError):
        return ZoneInfo("UTC")


LIST_FILTERS = ("export_type", "format", "status", "trigger", "schedule_id", "start_date", "end_date")


def _filter_key(filters: dict[str, Any] | None) -> tuple:
    """The filters a list's statement depends on (not its page or cursor), hashable."""
    filters = filters or {}
    return tuple((key, filters[key]) for key in LIST_FILTERS if filters.get(key))


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
        selectinload(ExportHistory.files),  # one more query for the list's files, not one a run
        defer(ExportHistory.error_traceback),
    )


def _filtered(stmt: Select, business: Business, filters: dict[str, Any] | None) -> Select:
    """`stmt` over export_history narrowed to the business's runs matching `filters`, newest first."""
    return _narrowed(stmt, business.id, _zone(business), filters or {})


_NEWEST_FIRST = (ExportHistory.created_at.desc(), ExportHistory.id.desc())


def _narrowed(stmt: Select, business_id: Any, zone: ZoneInfo, filters: dict[str, Any]) -> Select:
    stmt = stmt.where(ExportHistory.business_id == business_id)
    for field in ("export_type", "format", "status", "trigger"):
        if filters.get(field):
            stmt = stmt.where(getattr(ExportHistory, field) == filters[field])
    if filters.get("schedule_id"):
        stmt = stmt.where(ExportHistory.schedule_id == filters["schedule_id"])
    if filters.get("start_date"):
        stmt = stmt.where(ExportHistory.created_at >= local_day_start(filters["start_date"], zone))
    if filters.get("end_date"):
        end = local_day_start(filters["end_date"] + timedelta(days=1), zone)
        stmt = stmt.where(ExportHistory.created_at < end)
    return stmt.order_by(*_NEWEST_FIRST)


def history_query(business: Business, filters: dict[str, Any] | None = None) -> Select:
    """The business's runs (ExportHistory objects), newest first, filtered by
    `validate_history_params` output (export_type, format, status, trigger, schedule_id,
    start_date, end_date; other keys are ignored).

    start_date/end_date are inclusive days of `created_at` in the business's timezone.
    """
    return _with_relations(_filtered(select(ExportHistory), business, filters))


# What a list row reads: every column but the traceback, and the user's and schedule's names.
_LISTED_COLUMNS = [column for column in ExportHistory.__table__.c if column.key != "error_traceback"]
# Read as the database driver gives them, worked into Python values only when a run is presented
# (ListedRun): a page of runs kept by content (present_listed, web/history.rows_html) needs none of
# them. The id and the start are read typed: the cursors are made of them.
_TYPED = ("id", "created_at")
_AS_READ = NullType()
_NAMES = ("listed_user_name", "listed_user_email", "listed_schedule_name")


def list_runs_query(business: Business, filters: dict[str, Any] | None = None) -> Select:
    """The runs `history_query` selects, as plain rows for the history lists (wrap each in
    `ListedRun`): a page of 20 read as ORM objects cost twice what the rows themselves cost."""
    key = _filter_key(filters)
    carry = db.session.get_bind().dialect.name == "postgresql"  # see _list_statement
    try:
        return _list_statement(business.id, business.timezone, key, carry)
    except TypeError:  # a value that cannot be a cache key (validated filters always can)
        return _list_statement.__wrapped__(business.id, business.timezone, key, carry)


# The lists' statements are kept once built, per business and filters (a Select never changes
# once made): building one cost as much CPU as the database's answer to it, on every request.
# As many are kept as of the cursor pages' statements (services/keyset.py).
@lru_cache(maxsize=KEPT_STATEMENTS)
def _list_statement(business_id: Any, timezone: str | None, filter_key: tuple, carry_count: bool) -> Select:
    columns = [
        column if column.key in _TYPED else type_coerce(column, _AS_READ).label(column.key)
        for column in _LISTED_COLUMNS
    ]
    stmt = (
        select(
            *columns,
            User.name.label(_NAMES[0]),
            User.email.label(_NAMES[1]),
            ExportSchedule.name.label(_NAMES[2]),
        )
        .outerjoin(User, User.id == ExportHistory.user_id)
        .outerjoin(ExportSchedule, ExportSchedule.id == ExportHistory.schedule_id)
    )
    filters = dict(filter_key)
    stmt = _narrowed(stmt, business_id, _zone_named(timezone), filters)
    counted = _counted_columns(filters)
    if counted is None or not carry_count:  # count_history counts the runs, on its own
        return stmt.add_columns(null().label(_TOTAL))
    # On PostgreSQL the kept count rides along with the rows: one round trip fewer a page, and a
    # list the counts say is empty is not looked through at all (a one-time filter, tested before
    # any row is read: the shortcut runs_page takes when it counts first). SQLite tested the
    # condition on every row, walking a business's whole index for an empty filter (0.7 -> 11 ms
    # at 100,000 runs), and a statement costs it no round trip: it counts first.
    total = _kept_count(business_id, {column: filters[column] for column in counted}).scalar_subquery()
    return stmt.add_columns(total.label(_TOTAL)).where(total > 0)


# The kept count, the last column of every listed row (None where it is not kept: see above).
_TOTAL = "listed_total"
_ROW_KEYS = (*(column.key for column in _LISTED_COLUMNS), *_NAMES)
_ID_AT, _FORMATS_AT = _ROW_KEYS.index("id"), _ROW_KEYS.index("formats")


@cache
def _processors(dialect: Dialect) -> tuple[Callable[[Any], Any] | None, ...]:
    """For each column of a listed row, what turns the driver's value into the column type's
    Python value (what SQLAlchemy would have applied reading it typed); None where it is as read."""
    return tuple(
        None if column.key in _TYPED else column.type.result_processor(dialect, None)
        for column in _LISTED_COLUMNS
    ) + (None, None, None)


def _process(row: tuple, dialect: Dialect) -> list[Any]:
    return [
        value if convert is None else convert(value)
        for convert, value in zip(_processors(dialect), row, strict=True)
    ]


class ListedRun:
    """A run of `list_runs_query` as the presenters read it: the run's columns as attributes,
    `user` and `schedule` with the names a row shows, and ExportHistory's derived properties.
    The columns are worked out of the row on first use (a run presented from what was kept never
    reads them)."""

    duration_seconds = ExportHistory.duration_seconds
    file_size_mb = ExportHistory.file_size_mb
    is_downloadable = ExportHistory.is_downloadable

    def __init__(self, row: Any) -> None:
        self._row = tuple(row)[: len(_ROW_KEYS)]  # not the list's count, which every row carries
        self.content_key: bytes | None = None  # set by listed_runs, once the files are known
        self._files: list[Any] | None = None
        self._read = False

    def __getattr__(self, name: str) -> Any:  # only for what is not set yet: the row's columns
        if name.startswith("_") or self._read:
            raise AttributeError(name)
        self._read = True
        values = dict(zip(_ROW_KEYS, _process(self._row, db.session.get_bind().dialect), strict=True))
        user_name, user_email, schedule_name = (values.pop(key) for key in _NAMES)
        self.__dict__.update(values)
        self.user = SimpleNamespace(display_name=user_name or user_email) if user_email is not None else None
        self.schedule = SimpleNamespace(name=schedule_name) if schedule_name is not None else None
        return getattr(self, name)

    def formats_count(self) -> int:
        """How many formats the run was made in, read without working out the rest of the row."""
        raw = self._row[_FORMATS_AT]
        if raw is None:
            return 0
        convert = _processors(db.session.get_bind().dialect)[_FORMATS_AT]
        formats = convert(raw) if convert is not None else raw
        return len(formats) if isinstance(formats, list) else 0

    @property
    def files(self) -> list[Any]:
        """The run's file rows, with ExportRunFile's attributes (`listed_runs` reads a page's in one
        query as plain rows; else ORM objects on first use)."""
        if self._files is None:
            self._files = list(
                db.session.scalars(
                    select(ExportRunFile)
                    .where(ExportRunFile.history_id == self.id)
                    .order_by(ExportRunFile.position)
                )
            )
        return self._files


@cache
def _files_statement() -> Select:
    # Plain rows (what storage.run_files reads of a file), not ORM objects: a third of the cost.
    return (
        select(
            ExportRunFile.history_id,
            ExportRunFile.format,
            ExportRunFile.file_name,
            ExportRunFile.file_size,
            ExportRunFile.file_path,
            ExportRunFile.position,
        )
        .where(ExportRunFile.history_id.in_(bindparam("history_ids", expanding=True)))
        .order_by(ExportRunFile.position)
    )


def listed_runs(rows: list[Any]) -> list[ListedRun]:
    """A page of `list_runs_query` rows as `ListedRun`s, their files read in one query.

    Only runs of several formats are asked about: a run's own file columns are its first file
    (automation/execution.py writes them so), which is the only file of a one-format run, so a
    page of those (most pages) needs no second query (storage.run_files reads the columns)."""
    runs = [ListedRun(row) for row in rows]
    by_run: dict[Any, list[Any]] = {run._row[_ID_AT]: [] for run in runs if run.formats_count() > 1}
    if by_run:
        found = db.session.connection().execute(_files_statement(), {"history_ids": list(by_run)})
        for run_file in found:
            by_run[run_file.history_id].append(run_file)
    for run in runs:
        files = by_run.get(run._row[_ID_AT], [])
        run._files = files
        run.content_key = content_key(run._row, [tuple(f) for f in files])
    return runs


# A run's record, kept by everything it is made of (see core/content_cache.py): an API list page
# of runs it has shown before costs a dictionary lookup a run, not history_to_dict's 50 us.
_RECORDS = ContentCache(0)


def kept_rows_size() -> int:
    """How many presented runs each process keeps (HISTORY_CACHE_ROWS; 0 keeps none)."""
    return int(current_app.config.get("HISTORY_CACHE_ROWS", 0) or 0)


def present_listed(runs: list[ListedRun]) -> list[dict[str, Any]]:
    """history_to_dict of each listed run, kept by its content. Shared: never change one."""
    kept = _RECORDS.sized(kept_rows_size())
    return [kept.get_or_make(run.content_key, lambda run=run: history_to_dict(run)) for run in runs]


def count_history(business: Business, filters: dict[str, Any] | None = None) -> int:
    """How many runs `history_query(business, filters)` lists.

    Filters on export_type, format, status and trigger only (or none) are answered from the
    trigger-kept export_history_counts (at most 180 rows a business, see
    models/history_counts.py); a schedule or a date range counts the runs themselves.
    """
    filters = filters or {}
    counted = _counted_columns(filters)
    if counted is None:
        return count_rows(history_query(business, filters))
    values = {f"counted_{column}": filters[column] for column in counted}
    # On the session's connection, not through the ORM: the sum is a plain column.
    parameters = {"business_id": business.id, **values}
    return int(db.session.connection().execute(_count_statement(counted), parameters).scalar() or 0)


def _counted_columns(filters: dict[str, Any]) -> tuple[str, ...] | None:
    """The kept counts' columns that `filters` narrow, or None when the kept counts cannot answer
    (a schedule or dates)."""
    if any(filters.get(key) for key in ("schedule_id", "start_date", "end_date")):
        return None
    return tuple(column for column in COUNTED_COLUMNS if filters.get(column))


@lru_cache(maxsize=32)
def _count_statement(counted: tuple[str, ...]) -> Select:
    """The kept counts' sum for one business and the filters named in `counted` (bound values)."""
    return _kept_count(
        bindparam("business_id"), {column: bindparam(f"counted_{column}") for column in counted}
    )


def _kept_count(business_id: Any, values: dict[str, Any]) -> Select:
    """The sum of the kept counts of one business whose columns hold `values` (values or bind
    parameters): what count_history reads, and what the lists' rows carry on PostgreSQL."""
    return select(func.coalesce(func.sum(ExportHistoryCount.runs), 0)).where(
        ExportHistoryCount.business_id == business_id,
        *(getattr(ExportHistoryCount, column) == value for column, value in values.items()),
    )


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


def paginate_runs(
    stmt: Select,
    params: dict[str, Any],
    url_for_cursor: Callable[[str], str],
    count: int | Callable[[], int],
) -> dict[str, Any]:
    """{"count", "next", "previous", "results"} for one page of a run list (`list_runs_query`),
    by `params["cursor"]` when a link carried one, else by `params["page"]`. The next and
    previous links always carry cursors (see services/keyset.py): a client walking a list
    never pays for the rows it skipped. A page number past the end raises PageNotFound.
    `count` as runs_page takes it."""
    page_size = clamp_page_size(params.get("page_size"))
    found = runs_page(stmt, params.get("page") or 1, params.get("cursor"), page_size, count)
    return {
        "count": found.total,
        "next": url_for_cursor(encode_cursor(found.next)) if found.next else None,
        "previous": url_for_cursor(encode_cursor(found.previous)) if found.previous else None,
        "results": present_listed(listed_runs(found.items)),
    }


def runs_page(
    stmt: Select, page: int, cursor: Cursor | None, page_size: int, count: int | Callable[[], int]
) -> CursorPage:
    """One page of a run list (rows of `list_runs_query`) with its neighbours' cursors and the
    list's `total`: by cursor when there is one, else page `page` by OFFSET. A page number past
    the end raises PageNotFound (page 1 of an empty list is an empty page).

    `count` is the list's count, or what works it out (count_history): it is asked only when the
    rows do not carry the kept count (see _list_statement), for page 1 and cursor pages."""

    page = max(1, int(page))
    carries = _carries_count(stmt)
    carried = (cursor is not None or page == 1) and carries
    by_id = cursor is None and reads_by_id(offset_of(page, page_size))
    # Asked for once, before the first read (see GENERIC_PLANS, CUSTOM_PLANS); nothing is prepared
    # without a threshold, and only PostgreSQL's statements carry the count.
    plans = None
    if carries and current_app.config.get("DB_PREPARE_THRESHOLD", 5):
        if carried:
            plans = GENERIC_PLANS
        elif by_id:
            plans = CUSTOM_PLANS

    def read(query: Select, parameters: dict[str, Any] | None = None) -> list[Any]:
        # Rows straight from the connection: the session's ORM result layer adds a quarter to a
        # page of plain columns and gives nothing back.
        nonlocal plans
        connection = db.session.connection()
        if plans:
            connection.exec_driver_sql(plans)
            plans = None
        return connection.execute(query, parameters).all()

    def total() -> int:
        return count() if callable(count) else count

    counted = None if carried else total()
    if counted == 0 and (cursor is not None or page == 1):
        # Nothing matches: a rare filter would otherwise walk the whole business's index looking
        # for a first row. (Page 2 of nothing is still a 404 below.)
        return CursorPage([], 1, None, None, 0)
    if cursor is not None:
        found = cursor_page(stmt, cursor, page_size, read)
    else:
        if counted is not None and is_past_the_end(page, page_size, counted):
            raise past_the_end(page, counted)
        ids = _ids_of(stmt) if by_id else None
        found = CursorPage(
            page_items(stmt, page_size, offset_of(page, page_size), read, ids), page, None, None
        )
    if counted is None:  # the rows carry it; page 1 of nothing is an empty list all the same
        counted = int(found.items[0][-1]) if found.items else (0 if cursor is None else total())
    found.total = counted
    if cursor is None:
        found.next, found.previous = neighbours_of_offset_page(stmt, found.items, page, page_size, counted)
    return found


@lru_cache(maxsize=KEPT_STATEMENTS)
def _ids_of(stmt: Select) -> Select:
    """A list's run ids in its order, from export_history alone: a deep page's first step.

    Narrowed from the list statement, PostgreSQL kept its joins to users and schedules (the kept
    count's one-time filter stops it removing them) and read every skipped run from the table
    for them: page 500 of a large business took 17 ms of the database, 1.7 ms from the index
    alone. The lists filter and order on export_history's own columns only (_narrowed)."""
    return select(ExportHistory.id).where(stmt.whereclause).order_by(*_NEWEST_FIRST)


# PostgreSQL planned a list's prepared statement again at every request (0.4-0.8 ms of the
# database's CPU, issue 21): for a large business its custom plans look cheaper than the generic
# one, so the plan cache never settles, though the plan is the same. A list filtered on the kept
# columns alone (the statements that carry the kept count) has one right plan whatever the values:
# the business's (created_at, id) index, backwards. For the rest of the request's transaction only;
# a SELECT, so a request that only read still ends with COMMIT (read_only_requests.py).
GENERIC_PLANS = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"
# A page by OFFSET reads its rows by id (pages.page_items): one plan for any ids and business
# walked the business's whole index beside the ids' (6 ms for a large business). Planned for them.
CUSTOM_PLANS = "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"


def _carries_count(stmt: Select) -> bool:
    """Whether a list statement's rows carry the kept count (their last column, see _list_statement)."""
    column = stmt.selected_columns.get(_TOTAL)
    return column is not None and not isinstance(getattr(column, "element", None), Null)
