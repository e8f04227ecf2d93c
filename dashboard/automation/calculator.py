"""When does a schedule run next?  A pure calculator: no Flask, no database.

A schedule's ``hour`` and ``minute`` are wall-clock time in its IANA ``timezone``. Recurrence is
computed over naive wall-clock times with :mod:`dateutil.rrule`; each naive candidate is then
localized with :mod:`zoneinfo` using ``fold=0`` and converted to UTC:

* a wall-clock time that does not exist that day (spring forward) runs as ``zoneinfo`` resolves it
  with ``fold=0``: 2025-03-09 02:30 America/New_York becomes 07:30 UTC, i.e. 03:30 EDT;
* a wall-clock time that occurs twice (fall back) runs once, at its first occurrence (``fold=0``);
  its second occurrence is never an occurrence;
* occurrences are compared with ``after`` in UTC, strictly, so an occurrence is never returned twice
  and never skipped, whatever zone ``after`` was given in.

Both cases are flagged with ``Occurrence.dst_shifted``.

Calendar rules:

* DAILY: every day.
* WEEKLY: ``day_of_week`` (0 = Monday ... 6 = Sunday).
* MONTHLY: either ``day_of_month`` (1-31, or -1 for the last day; a day past a month's end runs on
  that month's last day) or ``week_of_month`` (1-4, or -1 for the last) with ``day_of_week``
  ("2nd Tuesday", "last Friday").
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil import rrule

__all__ = [
    "FREQUENCIES",
    "Occurrence",
    "ScheduleCalculator",
    "Timing",
    "WEEKDAY_NAMES",
    "describe_timing",
    "next_occurrence",
    "next_occurrences",
    "timing_of",
]

FREQUENCIES: tuple[str, ...] = ("DAILY", "WEEKLY", "MONTHLY")
WEEKDAY_NAMES: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_ORDINALS: dict[int, str] = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}
_RRULE_FREQ: dict[str, int] = {
    "DAILY": rrule.DAILY,
    "WEEKLY": rrule.WEEKLY,
    "MONTHLY": rrule.MONTHLY,
}
# Keys that load but are not IANA zones: "localtime" is whatever the machine is set to.
_NOT_IANA: frozenset[str] = frozenset({"localtime"})
# Start the naive search this far before `after`'s local wall time: more than any UTC offset change
# between two nearby instants (Pacific/Apia skipped a whole day in 2011), so nothing is missed.
_SEARCH_MARGIN = timedelta(days=2)


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Timing:
    """The timing fields of a schedule. Invalid combinations raise ``ValueError`` on creation."""

    frequency: str  # "DAILY" | "WEEKLY" | "MONTHLY"
    hour: int  # 0-23 wall clock in `timezone`
    minute: int = 0  # 0-59
    day_of_week: int | None = None  # 0=Monday..6=Sunday (WEEKLY; MONTHLY with week_of_month)
    day_of_month: int | None = None  # 1-31 or -1 (last day); past month end -> that month's last
    week_of_month: int | None = None  # 1-4 or -1 (last), with day_of_week
    timezone: str = "UTC"  # IANA name

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def zone(self) -> ZoneInfo:
        """The timing's zone (a cached ``ZoneInfo``)."""
        return _zone(self.timezone)


@dataclass(frozen=True)
class Occurrence:
    """One run of a schedule."""

    utc: datetime  # aware, UTC
    local: datetime  # aware, in the timing's zone
    dst_shifted: bool  # local wall time != requested (skipped time) OR wall time occurs twice


# --------------------------------------------------------------------------------------------
# Validation


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: object, allowed: range, extra: tuple[int, ...] = ()) -> None:
    if not _is_int(value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    assert isinstance(value, int)
    if value not in allowed and value not in extra:
        bounds = f"{allowed.start}-{allowed.stop - 1}"
        if extra:
            bounds += " or " + " or ".join(str(e) for e in extra)
        raise ValueError(f"{name} must be {bounds}, got {value}")


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_IANA


def _zone(name: str) -> ZoneInfo:
    """Load an IANA zone, or raise ``ValueError``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"timezone must be an IANA time zone name, got {name!r}")
    return _load_zone(name)


@lru_cache(maxsize=512)
def _load_zone(name: str) -> ZoneInfo:
    try:
        zone = ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise ValueError(f"unknown timezone {name!r}") from None
    except (ValueError, OSError) as exc:  # malformed keys, unreadable files
        raise ValueError(f"invalid timezone {name!r}: {exc}") from None
    if name not in _known_zones():  # e.g. "localtime", "posixrules", "right/UTC"
        raise ValueError(f"unknown timezone {name!r}")
    return zone


def _validate(timing: Timing) -> None:
    freq = timing.frequency
    if freq not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}, got {freq!r}")
    _check_int("hour", timing.hour, range(24))
    _check_int("minute", timing.minute, range(60))
    _zone(timing.timezone)

    dow, dom, wom = timing.day_of_week, timing.day_of_month, timing.week_of_month
    if dow is not None:
        _check_int("day_of_week", dow, range(7))
    if dom is not None:
        _check_int("day_of_month", dom, range(1, 32), (-1,))
    if wom is not None:
        _check_int("week_of_month", wom, range(1, 5), (-1,))

    if freq == "DAILY":
        fields = (("day_of_week", dow), ("day_of_month", dom), ("week_of_month", wom))
        given = [name for name, value in fields if value is not None]
        if given:
            raise ValueError(f"a DAILY schedule takes no {', '.join(given)}")
    elif freq == "WEEKLY":
        if dow is None:
            raise ValueError("a WEEKLY schedule needs day_of_week (0=Monday..6=Sunday)")
        if dom is not None or wom is not None:
            raise ValueError("a WEEKLY schedule takes no day_of_month or week_of_month")
    else:  # MONTHLY
        if dom is not None:
            if wom is not None or dow is not None:
                raise ValueError(
                    "a MONTHLY schedule takes either day_of_month, or week_of_month with "
                    "day_of_week, not both"
                )
        elif wom is None or dow is None:
            raise ValueError("a MONTHLY schedule needs day_of_month, or week_of_month with day_of_week")


# --------------------------------------------------------------------------------------------
# Recurrence


def _as_utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise ValueError(f"expected a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is out of range") from None


def _rule(timing: Timing, dtstart: datetime) -> rrule.rrule:
    """The naive wall-clock recurrence, from ``dtstart`` (naive, midnight) onwards."""
    kwargs: dict[str, Any] = {
        "dtstart": dtstart,
        "byhour": timing.hour,
        "byminute": timing.minute,
        "bysecond": 0,
    }
    if timing.frequency == "WEEKLY":
        kwargs["byweekday"] = timing.day_of_week
    elif timing.frequency == "MONTHLY":
        dom = timing.day_of_month
        if dom is None:
            assert timing.day_of_week is not None and timing.week_of_month is not None
            kwargs["byweekday"] = rrule.weekday(timing.day_of_week, timing.week_of_month)
        elif dom <= 28 or dom == -1:
            kwargs["bymonthday"] = dom
        else:
            # rrule skips months that lack the day. Take the last of days 28..dom that the month
            # has: `dom` itself when it exists, otherwise the month's last day.
            kwargs["bymonthday"] = tuple(range(28, dom + 1))
            kwargs["bysetpos"] = -1
    return rrule.rrule(_RRULE_FREQ[timing.frequency], **kwargs)


def _occurrence(naive: datetime, zone: ZoneInfo) -> Occurrence:
    first = naive.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(UTC)
    local = utc.astimezone(zone)
    skipped = local.replace(tzinfo=None) != naive
    repeated = not skipped and first.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset()
    return Occurrence(utc=utc, local=local, dst_shifted=skipped or repeated)


def _iter_occurrences(timing: Timing, after: datetime) -> Iterator[Occurrence]:
    """Occurrences strictly after ``after``, in order, each once."""
    zone = timing.zone
    last_utc = _as_utc(after)
    try:
        local_after = last_utc.astimezone(zone).replace(tzinfo=None)
        start = datetime.combine(local_after.date(), time()) - _SEARCH_MARGIN
    except OverflowError:
        start = datetime.min if last_utc.year < 5000 else datetime.combine(date.max, time())
    for naive in _rule(timing, start):
        try:
            occ = _occurrence(naive, zone)
        except OverflowError:
            return
        # Strictly increasing in UTC: skips what has passed, and never repeats an instant (e.g. a
        # skipped day whose fold=0 resolution lands on the next day's occurrence).
        if occ.utc > last_utc:
            last_utc = occ.utc
            yield occ


def next_occurrences(timing: Timing, after: datetime, count: int = 5) -> list[Occurrence]:
    """The next ``count`` occurrences strictly after ``after`` (aware; naive means UTC)."""
    if not isinstance(timing, Timing):
        raise ValueError(f"expected a Timing, got {timing!r}")
    if not _is_int(count) or count < 1:
        raise ValueError(f"count must be an integer >= 1, got {count!r}")
    result: list[Occurrence] = []
    for occ in _iter_occurrences(timing, after):
        result.append(occ)
        if len(result) == count:
            return result
    raise ValueError(f"no {count} occurrence(s) of this schedule after {after.isoformat()}")


def next_occurrence(timing: Timing, after: datetime) -> Occurrence:
    """The first occurrence strictly after ``after`` (aware; naive means UTC)."""
    return next_occurrences(timing, after, 1)[0]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def timing_of(obj: Any) -> Timing:
    """A ``Timing`` from any object with the timing attributes (a schedule model, a namespace).

    A missing or ``None`` minute is 0 and a missing or ``None`` timezone is ``"UTC"``; an enum
    frequency is read by its value, in any case.
    """
    frequency = _plain(getattr(obj, "frequency", None))
    if isinstance(frequency, str):
        frequency = frequency.upper()
    minute = getattr(obj, "minute", None)
    timezone = getattr(obj, "timezone", None)
    return Timing(
        frequency=frequency,
        hour=getattr(obj, "hour", None),  # type: ignore[arg-type]  # validated by Timing
        minute=0 if minute is None else minute,
        day_of_week=getattr(obj, "day_of_week", None),
        day_of_month=getattr(obj, "day_of_month", None),
        week_of_month=getattr(obj, "week_of_month", None),
        timezone="UTC" if timezone is None else timezone,
    )


# --------------------------------------------------------------------------------------------
# Plain English


def describe_timing(timing: Timing) -> str:
    """E.g. "Every day at 08:00 (Europe/London)", "Monthly on the 2nd Tuesday at 07:00 (UTC)"."""
    at = f"at {timing.hour:02d}:{timing.minute:02d} ({timing.timezone})"
    if timing.frequency == "DAILY":
        return f"Every day {at}"
    if timing.frequency == "WEEKLY":
        assert timing.day_of_week is not None
        return f"Every {WEEKDAY_NAMES[timing.day_of_week]} {at}"
    if timing.day_of_month == -1:
        return f"Monthly on the last day {at}"
    if timing.day_of_month is not None:
        return f"Monthly on day {timing.day_of_month} {at}"
    assert timing.week_of_month is not None and timing.day_of_week is not None
    ordinal = _ORDINALS[timing.week_of_month]
    return f"Monthly on the {ordinal} {WEEKDAY_NAMES[timing.day_of_week]} {at}"


# --------------------------------------------------------------------------------------------
# The class the services call


class ScheduleCalculator:
    """Next run times for schedules, over the functions above."""

    @classmethod
    def calculate_next_run(cls, schedule: Any, now: datetime | None = None) -> datetime:
        """The schedule's next run strictly after ``now`` (default: the current time), in UTC."""
        return next_occurrence(timing_of(schedule), _now(now)).utc

    @staticmethod
    def _calculate_daily_next_run(
        now: datetime, hour: int, minute: int = 0, timezone: str = "UTC"
    ) -> datetime:
        timing = Timing("DAILY", hour, minute, timezone=timezone)
        return next_occurrence(timing, _now(now)).utc

    @staticmethod
    def _calculate_weekly_next_run(
        now: datetime, hour: int, day_of_week: int, minute: int = 0, timezone: str = "UTC"
    ) -> datetime:
        timing = Timing("WEEKLY", hour, minute, day_of_week=day_of_week, timezone=timezone)
        return next_occurrence(timing, _now(now)).utc

    @staticmethod
    def _calculate_monthly_next_run(
        now: datetime,
        hour: int,
        day_of_month: int | None = None,
        minute: int = 0,
        timezone: str = "UTC",
        week_of_month: int | None = None,
        day_of_week: int | None = None,
    ) -> datetime:
        timing = Timing(
            "MONTHLY",
            hour,
            minute,
            day_of_week=day_of_week,
            day_of_month=day_of_month,
            week_of_month=week_of_month,
            timezone=timezone,
        )
        return next_occurrence(timing, _now(now)).utc


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now
