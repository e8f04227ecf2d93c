"""How times, dates, sizes and durations read to people: pages, mails, files and the API's
`*_display` fields all write them through these few functions, so one run reads alike everywhere.

- A time: "5 Dec 2026, 07:00 GMT" in the business's timezone ("Sat 5 Dec 2026, 07:00 GMT" with
  its weekday); the UTC time a page shows on hover is the same shape, "5 Dec 2026, 07:00 UTC".
- A date: "5 Dec 2026" ("5 Dec" where the year is plain from the context, as on a chart's axis).
- A size: 1,024-byte units written "KB"/"MB" with one decimal, ".0" dropped ("1.5 MB", "16 KB",
  "900 bytes"), so "1.5 MB" on a page and the API's `file_size_mb == 1.5` agree.
- A duration: "45s", "2m 15s", "1h 3m".
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "date_display",
    "datetime_display",
    "duration_display",
    "mb_display",
    "period_display",
    "size_display",
    "to_zone",
    "zone_of",
]


def zone_of(timezone: str | None) -> ZoneInfo:
    """The zone of an IANA name; UTC for None or a name this machine cannot load."""
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def to_zone(value: datetime, timezone: str | None) -> datetime:
    """`value` (naive means UTC) as a wall-clock time in `timezone` (None: in its own zone)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value if timezone is None else value.astimezone(zone_of(timezone))


def datetime_display(value: datetime | None, timezone: str | None = None, *, weekday: bool = False) -> str:
    """ "5 Dec 2026, 07:00 GMT" in `timezone` (None: the zone `value` carries, naive being UTC);
    "" for None."""
    if value is None:
        return ""
    local = to_zone(value, timezone)
    return f"{date_display(local, weekday=weekday)}, {local:%H:%M} {local.tzname()}"


def date_display(
    value: date | datetime | str | None,
    timezone: str | None = None,
    *,
    weekday: bool = False,
    year: bool = True,
) -> str:
    """ "5 Dec 2026" ("Sat 5 Dec 2026", "5 Dec"); a datetime is first put in `timezone`, an ISO
    date string is read as one (anything else is returned as it came); "" for None."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = to_zone(value, timezone)
    text = f"{value.day} {value:%b}"
    if year:
        text += f" {value.year}"
    return f"{value:%a} {text}" if weekday else text


def period_display(start: date | str | None, end: date | str | None) -> str:
    """ "5 Dec 2026" for one day, "1 Dec 2026 – 4 Dec 2026" for a range, "" without both."""
    if not start or not end:
        return ""
    if str(start) == str(end):
        return date_display(start)
    return f"{date_display(start)} – {date_display(end)}"


_BINARY_UNITS = ("KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB", "RB", "QB")


def size_display(size: int | float | None) -> str:
    """ "1.5 MB", "500 KB", "900 bytes" (1,024-byte units, one decimal, ".0" dropped)."""
    size = int(size or 0)
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    # humanize.naturalsize(binary=True, format="%.1f")'s rule, written out: a run list shows
    # dozens of sizes and the library's translation lookups were most of their cost. The unit
    # is the largest under the size, one more when rounding reaches 1,024 of it ("1 MB").
    power = min(int(math.log(size, 1024)), len(_BINARY_UNITS))
    if power < len(_BINARY_UNITS) and float(f"{size / 1024**power:.1f}") >= 1024:
        power += 1
    number = f"{size / 1024**power:.1f}"
    if number.endswith(".0"):
        number = number[:-2]
    return f"{number} {_BINARY_UNITS[power - 1]}"


def mb_display(megabytes: float | None) -> str:
    """A size the statistics give in MB of 1,024 KB, written as `size_display` writes bytes."""
    return size_display(round((megabytes or 0) * 1024 * 1024))


def duration_display(seconds: float | None) -> str | None:
    """ "45s", "2m 15s", "1h 3m"; "<1s" under a second; None when not finished."""
    if seconds is None:
        return None
    if seconds < 1:
        return "<1s"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
