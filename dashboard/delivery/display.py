"""How mails show times, dates, sizes and periods, in the business's timezone (the words for a
failure are dashboard/core/failure_words.py's)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dashboard.core.display import date_display, datetime_display, period_display, zone_of
from dashboard.core.display import size_display as size_display
from dashboard.core.labels import CONTENT_TYPES, FORMAT_LABELS
from dashboard.core.labels import EXPORT_TYPE_LABELS as TYPE_LABELS
from dashboard.models.pos import Business

# The words and formats are dashboard/core's (one format for pages, mails and files); these
# names are what the mail modules read.
__all__ = ["FORMAT_LABELS", "TYPE_LABELS", "CONTENT_TYPES", "size_display"]


def zone(business: Business) -> ZoneInfo:
    """The business's timezone (UTC when its name cannot be loaded)."""
    return zone_of(business.timezone)


def local_time(value: datetime | None, business: Business, *, weekday: bool = False) -> str:
    """ "5 Dec 2026, 07:00 GMT" in the business's timezone ("" for None)."""
    return datetime_display(value, business.timezone, weekday=weekday)


def local_date(value: datetime | None, business: Business) -> str:
    """ "5 Dec 2026" in the business's timezone ("" for None)."""
    return date_display(value, business.timezone)


def period(filters: dict | None) -> str:
    """ "1 Mar 2024 – 7 Mar 2024" (or one date) from a run's date filters; "" without them."""
    filters = filters or {}
    return period_display(filters.get("start_date"), filters.get("end_date"))
