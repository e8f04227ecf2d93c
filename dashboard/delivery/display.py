"""How mails show times, dates, sizes, periods and failures, in the business's timezone and in
words a business manager acts on."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from dashboard.exports.filters import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.models.pos import Business
from dashboard.services.presenters import file_size_display, local_display

TYPE_LABELS = EXPORT_TYPE_LABELS
__all__ = ["FORMAT_LABELS", "TYPE_LABELS", "CONTENT_TYPES", "TROUBLESHOOTING_STEPS"]

CONTENT_TYPES = {
    "excel": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
}

# Troubleshooting steps, in words a business manager can act on.
TROUBLESHOOTING_STEPS = [
    "Check the schedule's configuration: export type, format and filters (for example the date range).",
    "Verify that data is available for the chosen period.",
    "Review permissions: the person who created the schedule must still be a member of the business.",
    "Try a manual trigger from the dashboard to see whether the problem persists.",
    "Contact support if it keeps failing, and include the time of this failure.",
]


def zone(business: Business) -> ZoneInfo:
    try:
        return ZoneInfo(business.timezone or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def local_time(value: datetime | None, business: Business, fmt: str | None = None) -> str:
    """ "15 Mar 2024, 08:00 GMT" in the business's timezone (the pages' format)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if fmt is None:
        return local_display(value, business.timezone or "UTC")
    local = value.astimezone(zone(business))
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_date(value: datetime | None, business: Business) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone(business)).strftime("%d %b %Y").lstrip("0")


def size_display(size: int | None) -> str:
    return file_size_display(size)


def period(filters: dict | None) -> str:
    """ "1 Mar 2024 – 7 Mar 2024" (or one date) from a run's date filters; "" without them."""
    filters = filters or {}
    start, end = filters.get("start_date"), filters.get("end_date")

    def nice(value) -> str:
        try:
            return date.fromisoformat(str(value)).strftime("%d %b %Y").lstrip("0")
        except ValueError:
            return str(value)

    if start and end:
        return nice(start) if start == end else f"{nice(start)} – {nice(end)}"
    return ""


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
