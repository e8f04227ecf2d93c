"""Run history: filtered lists, pagination, recent runs and statistics.

Statistics are SQL aggregates (COUNT/SUM over CASE, GROUP BY): a business with a million runs costs
a few index range scans, never a million Python objects. Dates a person picks ("from 1 March")
are days in the business's timezone, turned into UTC bounds here so that the
(business_id, created_at) index answers them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import selectinload

from dashboard.extensions import db
from dashboard.models.automation import (
    EXPORT_TYPES,
    FORMATS,
    STATUS_FAILED,
    SUCCESS_STATUSES,
    ExportHistory,
)
from dashboard.models.pos import Business
from dashboard.services.errors import PageNotFound
from dashboard.services.validation import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from dashboard.tenancy import get_scoped

__all__ = [
    "DAILY_DAYS",
    "get_history",
    "history_query",
    "local_day_start",
    "paginate",
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
    # The presenters read the user's and the schedule's names: one query each, not one per row.
    return stmt.options(selectinload(ExportHistory.user), selectinload(ExportHistory.schedule))


def history_query(business: Business, filters: dict[str, Any] | None = None) -> Select:
    """The business's runs, newest first, filtered by `validate_history_params` output (export_type,
    format, status, trigger, schedule_id, start_date, end_date; other keys are ignored).

    start_date/end_date are inclusive days of `created_at` in the business's timezone.
    """
    filters = filters or {}
    stmt = select(ExportHistory).where(ExportHistory.business_id == business.id)
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
    return _with_relations(stmt.order_by(ExportHistory.created_at.desc(), ExportHistory.id.desc()))


def get_history(business: Business, history_id: object) -> ExportHistory | None:
    """The business's run with this id; None for a missing, foreign or malformed id."""
    return get_scoped(ExportHistory, history_id, business.id)


def recent_history(business: Business, limit: int = 10) -> list[ExportHistory]:
    """The business's last `limit` runs, newest first."""
    return list(db.session.scalars(history_query(business).limit(limit)))


def paginate(
    stmt: Select,
    page: int,
    page_size: int,
    url_for_page: Callable[[int], str],
    present: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """{"count", "next", "previous", "results"} for one page of an ORM Select.

    `url_for_page(n)` builds the absolute URL of page n (the caller keeps its other query
    parameters); `present` turns each object into what `results` holds (default: the objects).
    Page 1 of an empty list is an empty page; any other page past the end raises PageNotFound.
    `page_size` is clamped to 1..100.
    """
    page = max(1, int(page))
    page_size = max(1, min(int(page_size or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    count = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    offset = (page - 1) * page_size
    if page > 1 and offset >= count:
        raise PageNotFound(f"Page {page} is past the end ({count} results).")
    items = list(db.session.scalars(stmt.limit(page_size).offset(offset)))
    return {
        "count": count,
        "next": url_for_page(page + 1) if offset + page_size < count else None,
        "previous": url_for_page(page - 1) if page > 1 else None,
        "results": [present(item) for item in items] if present else items,
    }


# --------------------------------------------------------------------------------------------
# Statistics


_SUCCESS = case((ExportHistory.status.in_(SUCCESS_STATUSES), 1), else_=0)
_FAILED = case((ExportHistory.status == STATUS_FAILED, 1), else_=0)


def _counts(total: int | None, successful: int | None, failed: int | None) -> dict[str, int]:
    return {"total": int(total or 0), "successful": int(successful or 0), "failed": int(failed or 0)}


def _grouped(business_id, column, keys: tuple[str, ...], since: datetime | None) -> dict[str, dict]:
    stmt = select(column, func.count(), func.sum(_SUCCESS), func.sum(_FAILED)).where(
        ExportHistory.business_id == business_id
    )
    if since is not None:
        stmt = stmt.where(ExportHistory.created_at >= since)
    result = {key: _counts(0, 0, 0) for key in keys}
    for key, total, successful, failed in db.session.execute(stmt.group_by(column)):
        result[key] = _counts(total, successful, failed)  # a value outside the choices still shows
    return result


def _daily(business: Business, now: datetime) -> list[dict[str, Any]]:
    zone = _zone(business)
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=DAILY_DAYS - 1 - i) for i in range(DAILY_DAYS)]
    bounds = [local_day_start(day, zone) for day in days] + [local_day_start(today + timedelta(days=1), zone)]
    # Each row's local day, as the index of the UTC range it falls in: DST-correct and portable
    # (SQLite knows no IANA zones). Bucketed in a subquery, grouped outside: PostgreSQL would not
    # match a GROUP BY expression whose bound parameters are numbered apart from the SELECT's.
    bucket = case(
        *((ExportHistory.created_at < bounds[i + 1], i) for i in range(DAILY_DAYS)),
        else_=DAILY_DAYS,
    ).label("day")
    rows = (
        select(bucket, _SUCCESS.label("ok"), _FAILED.label("ko"))
        .where(
            ExportHistory.business_id == business.id,
            ExportHistory.created_at >= bounds[0],
            ExportHistory.created_at < bounds[-1],
        )
        .subquery()
    )
    stmt = select(rows.c.day, func.count(), func.sum(rows.c.ok), func.sum(rows.c.ko)).group_by(rows.c.day)
    found = {int(day): _counts(total, ok, ko) for day, total, ok, ko in db.session.execute(stmt)}
    return [{"date": day.isoformat(), **found.get(i, _counts(0, 0, 0))} for i, day in enumerate(days)]


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
    file_size = case((ExportHistory.file_size > 0, ExportHistory.file_size), else_=None)
    recent = case((ExportHistory.created_at >= now - RECENT_WINDOW, 1), else_=0)
    stmt = select(
        func.count(), func.sum(_SUCCESS), func.sum(_FAILED), func.sum(recent), func.avg(file_size)
    ).where(ExportHistory.business_id == business.id)
    if since is not None:
        stmt = stmt.where(ExportHistory.created_at >= since)
    total, successful, failed, recent_count, average_size = db.session.execute(stmt).one()
    counts = _counts(total, successful, failed)
    finished = counts["successful"] + counts["failed"]
    return {
        "total_exports": counts["total"],
        "successful_exports": counts["successful"],
        "failed_exports": counts["failed"],
        "success_rate": round(100 * counts["successful"] / finished, 1) if finished else None,
        "by_type": _grouped(business.id, ExportHistory.export_type, EXPORT_TYPES, since),
        "by_format": _grouped(business.id, ExportHistory.format, FORMATS, since),
        "recent_exports_7_days": int(recent_count or 0),
        "average_file_size_mb": round(float(average_size) / _MB, 2) if average_size else 0.0,
        "daily": _daily(business, now),
    }
