"""Statistics of a business's runs: totals, by type and format, success rate, file sizes and a
30-day daily series, as the contract's `statistics/` defines them.

SQL aggregates (COUNT/SUM over CASE, GROUP BY): a business with a million runs costs a few index
range scans, never a million Python objects. Under load the same business's figures are asked
for again and again while nothing changed, so a worker keeps them for up to
STATISTICS_CACHE_SECONDS, and only while the kept history counts (models/history_counts.py, which
every new run and status change moves) stay the same: a run that starts or ends shows at once.
"""

from __future__ import annotations

import marshal
import threading
import time as time_module
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, case, func, literal_column, select, union_all

from dashboard.extensions import db
from dashboard.models.automation import (
    EXPORT_TYPES,
    FORMATS,
    STATUS_FAILED,
    SUCCESS_STATUSES,
    ExportHistory,
    ExportRunFile,
)
from dashboard.models.history_counts import ExportHistoryCount
from dashboard.models.pos import Business
from dashboard.models.types import GUID, UTCDateTime
from dashboard.services.history import _zone, local_day_start

__all__ = ["DAILY_DAYS", "average_file_size_by_format", "forget_cached_statistics", "statistics"]

DAILY_DAYS = 30
RECENT_WINDOW = timedelta(days=7)
_MB = 1024 * 1024  # as ExportHistory.file_size_mb and the "1.5 MB" display


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
        literal_column("0").label("extra"),
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


def _more_files_statement(since: bool) -> Select:
    """The files runs made beyond their first (several formats), per (type, file format, status),
    with their bytes: each format a run made counts under that format in `by_format`. One seek in
    (business_id, position); such files are few."""
    stmt = (
        select(
            literal_column("1").label("extra"),
            ExportHistory.export_type,
            ExportRunFile.format,
            ExportHistory.status,
            func.count(),
            func.sum(case((ExportRunFile.file_size > 0, 1), else_=0)),
            func.sum(case((ExportRunFile.file_size > 0, ExportRunFile.file_size), else_=0)),
        )
        .join(ExportHistory, ExportHistory.id == ExportRunFile.history_id)
        .where(
            ExportRunFile.business_id == bindparam("business_id", type_=GUID()), ExportRunFile.position > 0
        )
    )
    if since:
        stmt = stmt.where(ExportHistory.created_at >= bindparam("since", type_=UTCDateTime()))
    return stmt.group_by(ExportHistory.export_type, ExportRunFile.format, ExportHistory.status)


# One statement: the runs per (type, first format, status), then (extra = 1) the files runs made
# beyond their first, per (type, format, status).
_GROUPED = union_all(_grouped_statement(since=False), _more_files_statement(since=False))
_GROUPED_SINCE = union_all(_grouped_statement(since=True), _more_files_statement(since=True))
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
    """The run statistics, as the contract defines them, plus "daily".

    Successful = COMPLETED + EMAILED, failed = FAILED; PENDING/PROCESSING count in the totals only.
    `success_rate` is 100 x successful / (successful + failed) to one decimal, null when nothing
    has finished. `average_file_size_mb` is over runs with a file (file_size > 0), in MB of 1,024 KB,
    two decimals, 0.0 when there is none. `by_type` and `by_format` list every type and format,
    zero-filled, so that charts and clients see stable keys; a run that made several formats counts
    once in the totals and `by_type` and under each format it made in `by_format`. `daily` is 30 entries, oldest first,
    one per calendar day in the business's timezone ending today, zero-filled.
    `since` (optional, e.g. for a weekly summary) limits every figure but `daily` to runs created
    from then on. Figures for now (no `now`, no `since`) may come from this worker's cache.
    """
    # A caller may change its copy. The figures are plain JSON values, which marshal copies about
    # six times faster than copy.deepcopy.
    return marshal.loads(marshal.dumps(_figures(business, now, since)[0]))


def average_file_size_by_format(business: Business) -> dict[str, float | None]:
    """Average file size in MB of the runs with a file, per format, every format listed (None
    where none has a file yet): the statistics page's size chart. From the same grouped read as
    `statistics` (and its cache)."""
    sizes = _figures(business, None, None)[1]
    return {fmt: (size / files / _MB if files else None) for fmt, (files, size) in sizes.items()}


_Sizes = dict[str, tuple[int, int]]  # format -> (runs with a file, their bytes)


def _figures(
    business: Business, now: datetime | None, since: datetime | None
) -> tuple[dict[str, Any], _Sizes]:
    seconds = current_app.config.get("STATISTICS_CACHE_SECONDS", 0)
    if now is not None or since is not None or not seconds:
        return _compute(business, now, since)
    return _CACHE.get_or_compute(business, seconds)


def _compute(
    business: Business, now: datetime | None, since: datetime | None
) -> tuple[dict[str, Any], _Sizes]:
    now = datetime.now(UTC) if now is None else now
    recent_from = now - RECENT_WINDOW if since is None else max(now - RECENT_WINDOW, since)
    if since is None:
        rows = db.session.execute(_GROUPED, {"business_id": business.id}).all()
    else:
        rows = db.session.execute(_GROUPED_SINCE, {"business_id": business.id, "since": since}).all()
    groups = [row[1:] for row in rows if not row[0]]
    more_files = [row[1:] for row in rows if row[0]]

    # At most 4 types x 3 formats x 5 statuses rows, added up here for the totals, by_type and
    # by_format.
    totals = _counts(0, 0, 0)
    by_type = {key: _counts(0, 0, 0) for key in EXPORT_TYPES}
    by_format = {key: _counts(0, 0, 0) for key in FORMATS}
    sizes: _Sizes = dict.fromkeys(FORMATS, (0, 0))
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
        files, size = sizes.get(fmt, (0, 0))
        sizes[fmt] = (files + int(files_n or 0), size + int(size_n or 0))
    # The average file size is over runs (their first files), as the contract says.
    files = sum(n for n, _ in sizes.values())
    size_sum = sum(size for _, size in sizes.values())
    for _export_type, fmt, status, total, files_n, size_n in more_files:
        bucket = by_format.setdefault(fmt, _counts(0, 0, 0))
        bucket["total"] += int(total or 0)
        bucket["successful"] += int(total or 0) if status in SUCCESS_STATUSES else 0
        bucket["failed"] += int(total or 0) if status == STATUS_FAILED else 0
        format_files, format_size = sizes.get(fmt, (0, 0))
        sizes[fmt] = (format_files + int(files_n or 0), format_size + int(size_n or 0))
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
    }, sizes


class _Flight:
    """One computation of a business's figures that other threads asking meanwhile wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.figures: tuple[dict[str, Any], _Sizes] | None = None


class _StatisticsCache:
    """Per worker: business id -> (kept counts when computed, when it expires, figures). At most
    MAX_ENTRIES businesses, the least recently asked dropped first.

    When the figures must be worked out again (expired, or the counts moved), one thread works
    them out and the others asking for the same business and counts wait for it: under load every
    serving thread used to miss at once and compute the same large business's figures side by side
    (issue 21: statistics' p99 at 4x its p50)."""

    MAX_ENTRIES = 512
    WAIT_SECONDS = 30.0  # a follower whose leader takes longer computes for itself

    def __init__(self) -> None:
        self._entries: OrderedDict[uuid.UUID, tuple[tuple, float, tuple[dict[str, Any], _Sizes]]] = (
            OrderedDict()
        )
        self._flights: dict[tuple[uuid.UUID, tuple], _Flight] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, business: Business, seconds: float) -> tuple[dict[str, Any], _Sizes]:
        # The kept counts (at most 180 rows a business) move with every new run and every status
        # change, which is when any figure here can change; time moves the 7-day and daily
        # windows, hence the expiry as well.
        snapshot = tuple(
            tuple(row)
            for row in db.session.execute(
                select(
                    ExportHistoryCount.export_type,
                    ExportHistoryCount.format,
                    ExportHistoryCount.status,
                    ExportHistoryCount.trigger,
                    ExportHistoryCount.runs,
                )
                .where(ExportHistoryCount.business_id == business.id)
                .order_by(
                    ExportHistoryCount.export_type,
                    ExportHistoryCount.format,
                    ExportHistoryCount.status,
                    ExportHistoryCount.trigger,
                )
            )
        )
        return self.get(business.id, snapshot, seconds, lambda: _compute(business, None, None))

    def get(
        self,
        business_id: uuid.UUID,
        snapshot: tuple,
        seconds: float,
        compute: Callable[[], tuple[dict[str, Any], _Sizes]],
    ) -> tuple[dict[str, Any], _Sizes]:
        """The figures kept for this business and counts, else `compute()`'s (one thread's)."""
        key = (business_id, snapshot)
        with self._lock:
            found = self._entries.get(business_id)
            if found is not None and found[0] == snapshot and found[1] > time_module.monotonic():
                self._entries.move_to_end(business_id)
                return found[2]
            flight = self._flights.get(key)
            leading = flight is None
            if leading:
                flight = self._flights[key] = _Flight()
        if not leading:
            flight.done.wait(self.WAIT_SECONDS)
            # None: the leader failed (its error is its own request's) or is still at it.
            return flight.figures or compute()
        try:
            figures = flight.figures = compute()
            with self._lock:
                self._entries[business_id] = (snapshot, time_module.monotonic() + seconds, figures)
                self._entries.move_to_end(business_id)
                while len(self._entries) > self.MAX_ENTRIES:
                    self._entries.popitem(last=False)
            return figures
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CACHE = _StatisticsCache()


def forget_cached_statistics() -> None:
    """Empty this worker's statistics cache (tests; an operator's recount)."""
    _CACHE.clear()
