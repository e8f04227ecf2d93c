"""How mails show times, dates, sizes, periods and failures, in the business's timezone and in
words a business manager acts on."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from dashboard.core.display import date_display, datetime_display, period_display, zone_of
from dashboard.core.display import size_display as size_display
from dashboard.core.labels import CONTENT_TYPES, FORMAT_LABELS
from dashboard.core.labels import EXPORT_TYPE_LABELS as TYPE_LABELS
from dashboard.models.pos import Business

# The words and formats are dashboard/core's (one format for pages, mails and files); these
# names are what the mail modules read.
__all__ = ["FORMAT_LABELS", "TYPE_LABELS", "CONTENT_TYPES", "TROUBLESHOOTING_STEPS", "size_display"]

# Troubleshooting steps, in words a business manager can act on.
TROUBLESHOOTING_STEPS = [
    "Check the schedule's configuration: export type, format and filters (for example the date range).",
    "Verify that data is available for the chosen period.",
    "Review permissions: the person who created the schedule must still be a member of the business.",
    "Try a manual trigger from the dashboard to see whether the problem persists.",
    "Contact support if it keeps failing, and include the time of this failure.",
]


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


def plain_error(message: str | None) -> str:
    """A sentence a business manager understands; the recorded message goes beside it."""
    text = (message or "").lower()
    if "interrupt" in text or "stale" in text:
        return (
            "The export was interrupted before it finished: the server restarted or the worker "
            "stopped responding."
        )
    if "never started" in text:
        return "The export was queued but never started: the process that queued it stopped."
    if "settings are not valid" in text or "filter" in text or re.search(r"\bdates?\b|date range", text):
        return "The export's settings are not valid any more (for example its filters or date range)."
    if "disk" in text or "no space" in text or "storage" in text or "could not be saved" in text:
        return "The export file could not be saved: the file storage is full or unavailable."
    if "out of memory" in text:
        return "The export ran out of memory: try a shorter period or the CSV format."
    if "database" in text or "operationalerror" in text:
        return "The database could not be reached while the export ran."
    if "timeout" in text or "timed out" in text:
        return "The export took too long and was stopped."
    return "The export could not be completed because of an unexpected error."
