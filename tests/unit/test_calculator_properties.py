"""Properties of the schedule calculator, checked with hypothesis against a brute-force oracle."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dashboard.automation.calculator import (
    Occurrence,
    Timing,
    next_occurrence,
    next_occurrences,
)

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",  # -03:30 / -02:30
    "America/Santiago",  # changes at midnight
    "America/Havana",  # changes at midnight
    "Europe/London",
    "Europe/Berlin",
    "Europe/Dublin",  # "negative" DST in tzdata
    "Africa/Casablanca",  # goes back an hour for Ramadan
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # 30-minute DST
    "Australia/Sydney",
    "Pacific/Chatham",  # +12:45 / +13:45, changes at 02:45
    "Pacific/Auckland",
]
US = timedelta(microseconds=1)
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Strategies

zones = st.sampled_from(ZONES)
hours = st.one_of(st.sampled_from([0, 1, 2, 3, 23]), st.integers(0, 23))
minutes = st.one_of(st.sampled_from([0, 15, 30, 45]), st.integers(0, 59))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@st.composite
def daily_timings(draw: st.DrawFn) -> Timing:
    return Timing("DAILY", draw(hours), draw(minutes), timezone=draw(zones))


@st.composite
def timings(draw: st.DrawFn) -> Timing:
    frequency = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "MONTHLY"]))
    hour, minute, zone = draw(hours), draw(minutes), draw(zones)
    if frequency == "DAILY":
        return Timing("DAILY", hour, minute, timezone=zone)
    dow = draw(st.integers(0, 6))
    if frequency == "WEEKLY":
        return Timing("WEEKLY", hour, minute, day_of_week=dow, timezone=zone)
    if draw(st.booleans()):
        dom = draw(st.one_of(st.sampled_from([-1, 28, 29, 30, 31]), st.integers(1, 31)))
        return Timing("MONTHLY", hour, minute, day_of_month=dom, timezone=zone)
    wom = draw(st.sampled_from([1, 2, 3, 4, -1]))
    return Timing("MONTHLY", hour, minute, week_of_month=wom, day_of_week=dow, timezone=zone)


# DST transitions to pin: (zone, the day, hour, minute, an instant a little before that run).
DST_PINS = [
    ("America/New_York", date(2025, 3, 9), 2, 30, utc(2025, 3, 9, 4)),  # skipped
    ("America/New_York", date(2025, 11, 2), 1, 30, utc(2025, 11, 2, 4)),  # repeated
    ("America/New_York", date(2025, 11, 2), 1, 30, utc(2025, 11, 2, 6)),  # between the two
    ("Europe/London", date(2025, 3, 30), 1, 30, utc(2025, 3, 30)),
    ("Europe/London", date(2025, 10, 26), 1, 30, utc(2025, 10, 26)),
    ("Europe/Berlin", date(2031, 3, 30), 2, 30, utc(2031, 3, 30)),
    ("Europe/Dublin", date(2026, 3, 29), 1, 0, utc(2026, 3, 29)),
    ("Australia/Lord_Howe", date(2025, 10, 5), 2, 15, utc(2025, 10, 4, 14)),  # 02:00 -> 02:30
    ("Australia/Lord_Howe", date(2025, 4, 6), 1, 45, utc(2025, 4, 5, 14)),  # 02:00 -> 01:30
    ("Pacific/Chatham", date(2025, 9, 28), 3, 0, utc(2025, 9, 27, 12)),  # 02:45 -> 03:45
    ("Pacific/Chatham", date(2025, 4, 6), 2, 50, utc(2025, 4, 5, 12)),  # 03:45 -> 02:45
    ("America/Santiago", date(2025, 9, 7), 0, 30, utc(2025, 9, 7, 2)),  # 24:00 -> 01:00
    ("America/Santiago", date(2025, 4, 5), 23, 30, utc(2025, 4, 5, 23)),  # 24:00 -> 23:00
    ("America/Havana", date(2026, 3, 8), 0, 0, utc(2026, 3, 8, 3)),  # 00:00 -> 01:00
    ("America/St_Johns", date(2027, 3, 14), 2, 30, utc(2027, 3, 14, 4)),
]


def pinned(examples_for):  # type: ignore[no-untyped-def]
    """Decorate a `(timing, instant)` test with an @example per DST pin."""

    def decorate(test):  # type: ignore[no-untyped-def]
        for zone, day, hour, minute, instant in DST_PINS:
            for timing in examples_for(zone, day, hour, minute):
                test = example(timing=timing, instant=instant)(test)
        return test

    return decorate


def _pins_all_kinds(zone: str, day: date, hour: int, minute: int) -> list[Timing]:
    """Every kind of timing that runs on `day` at hour:minute."""
    last = (day + timedelta(days=7)).month != day.month
    nth = -1 if last else (day.day - 1) // 7 + 1
    dow = day.weekday()
    return [
        Timing("DAILY", hour, minute, timezone=zone),
        Timing("WEEKLY", hour, minute, day_of_week=dow, timezone=zone),
        Timing("MONTHLY", hour, minute, day_of_month=day.day, timezone=zone),
        Timing("MONTHLY", hour, minute, week_of_month=nth, day_of_week=dow, timezone=zone),
    ]


def _pins_daily(zone: str, day: date, hour: int, minute: int) -> list[Timing]:
    return [Timing("DAILY", hour, minute, timezone=zone)]


# --------------------------------------------------------------------------------------------
# An independent oracle: walk calendar days, no rrule.


def _runs_on(timing: Timing, day: date) -> bool:
    if timing.frequency == "DAILY":
        return True
    if timing.frequency == "WEEKLY":
        return day.weekday() == timing.day_of_week
    last = calendar.monthrange(day.year, day.month)[1]
    if timing.day_of_month is not None:
        target = last if timing.day_of_month == -1 else min(timing.day_of_month, last)
        return day.day == target
    if day.weekday() != timing.day_of_week:
        return False
    if timing.week_of_month == -1:
        return day.day + 7 > last
    return (day.day - 1) // 7 + 1 == timing.week_of_month


def oracle_next(timing: Timing, after: datetime) -> datetime:
    """The first wall-clock run (fold=0) strictly after `after`, found day by day."""
    zone = ZoneInfo(timing.timezone)
    day = after.astimezone(zone).date() - timedelta(days=2)
    while True:
        if _runs_on(timing, day):
            naive = datetime.combine(day, time(timing.hour, timing.minute))
            instant = naive.replace(tzinfo=zone).astimezone(UTC)
            if instant > after:
                return instant
        day += timedelta(days=1)


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def _is_repeated(naive: datetime, zone: ZoneInfo) -> bool:
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _exists(naive, zone) and first != second


# --------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=200, deadline=None)
@given(timing=timings(), instant=instants)
@pinned(_pins_all_kinds)
def test_next_is_strictly_after_and_matches_the_oracle(timing: Timing, instant: datetime) -> None:
    occ = next_occurrence(timing, instant)
    assert occ.utc > instant
    assert occ.utc.tzinfo is UTC
    # (Not `occ.local == occ.utc`: PEP 495 makes an inter-zone == False for a repeated time.)
    assert occ.local.astimezone(UTC) == occ.utc
    assert occ.local.tzinfo == ZoneInfo(timing.timezone)
    assert occ.utc == oracle_next(timing, instant)
    # Asking from elsewhere than UTC gives the same answer.
    assert next_occurrence(timing, instant.astimezone(ZoneInfo(timing.timezone))) == occ
    assert next_occurrence(timing, instant.replace(tzinfo=None)) == occ


@settings(max_examples=200, deadline=None)
@given(timing=timings(), instant=instants)
@pinned(_pins_all_kinds)
def test_wall_clock_time_is_kept_whenever_it_exists(timing: Timing, instant: datetime) -> None:
    occ = next_occurrence(timing, instant)
    zone = ZoneInfo(timing.timezone)
    requested = datetime.combine(occ.local.date(), time(timing.hour, timing.minute))
    if (occ.local.hour, occ.local.minute) == (timing.hour, timing.minute):
        # Its first occurrence, and flagged exactly when the time repeats that day.
        assert occ.local.fold == 0
        assert occ.dst_shifted is _is_repeated(requested, zone)
        assert _runs_on(timing, occ.local.date())
    else:
        # Only a skipped wall time moves, as fold=0 resolves it, later the same day.
        assert not _exists(requested, zone)
        assert occ.dst_shifted
        assert occ.utc == requested.replace(tzinfo=zone).astimezone(UTC)
        assert timedelta(0) < occ.local.replace(tzinfo=None) - requested <= HOUR


@settings(max_examples=200, deadline=None)
@given(timing=timings(), instant=instants)
@pinned(_pins_all_kinds)
def test_asking_from_just_before_an_occurrence_returns_it(timing: Timing, instant: datetime) -> None:
    runs = next_occurrences(timing, instant, 3)
    for occ, following in zip(runs, runs[1:], strict=False):
        assert next_occurrence(timing, occ.utc - US) == occ
        assert next_occurrence(timing, occ.utc) == following
        assert next_occurrence(timing, following.utc - US) == following
    # Chaining next_occurrence gives next_occurrences.
    assert next_occurrences(timing, runs[0].utc - US, 3) == runs


@settings(max_examples=200, deadline=None)
@given(timing=daily_timings(), instant=instants)
@pinned(_pins_daily)
def test_consecutive_daily_runs_are_23_to_25_hours_apart(timing: Timing, instant: datetime) -> None:
    runs = next_occurrences(timing, instant, 4)
    for a, b in zip(runs, runs[1:], strict=False):
        assert timedelta(hours=23) <= b.utc - a.utc <= timedelta(hours=25)


@settings(max_examples=200, deadline=None)
@given(timing=daily_timings(), instant=instants)
@pinned(_pins_daily)
def test_daily_walk_runs_once_on_every_local_day(timing: Timing, instant: datetime) -> None:
    """Over 400 days: one run per calendar day, no repeats, no gaps."""
    runs: list[Occurrence] = next_occurrences(timing, instant, 400)
    days = [o.local.date() for o in runs]
    first = days[0]
    assert days == [first + timedelta(days=i) for i in range(400)]
    assert len({o.utc for o in runs}) == 400
    # The first is today's run when it is still to come, otherwise tomorrow's.
    assert first - instant.astimezone(ZoneInfo(timing.timezone)).date() in (
        timedelta(0),
        timedelta(days=1),
    )
    # Walking one step at a time agrees with the batch (checked over a stretch of it).
    step = runs[0]
    for expected in runs[1:15]:
        step = next_occurrence(timing, step.utc)
        assert step == expected
