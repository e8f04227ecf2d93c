"""The schedule calculator at fixed instants (see CONTRACT.md section 3, "Daylight saving")."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from dashboard.automation.calculator import (
    Occurrence,
    ScheduleCalculator,
    Timing,
    describe_timing,
    next_occurrence,
    next_occurrences,
    timing_of,
)

NY = "America/New_York"
LONDON = "Europe/London"
US = timedelta(microseconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


# --------------------------------------------------------------------------------------------
# Daylight saving: spring forward and fall back, for every frequency


# DST days of 2025, all Sundays. New York: 03-09 02:00 -> 03:00, 11-02 02:00 -> 01:00.
# London: 03-30 01:00 -> 02:00, 10-26 02:00 -> 01:00.
def _timings_on(day: date, zone: str, hour: int, minute: int) -> list[Timing]:
    """A DAILY, a WEEKLY, a MONTHLY day-of-month and a MONTHLY nth-weekday timing, all hitting `day`
    (a Sunday)."""
    nth = (day.day - 1) // 7 + 1
    last = (day + timedelta(days=7)).month != day.month
    return [
        Timing("DAILY", hour, minute, timezone=zone),
        Timing("WEEKLY", hour, minute, day_of_week=6, timezone=zone),
        Timing("MONTHLY", hour, minute, day_of_month=day.day, timezone=zone),
        Timing("MONTHLY", hour, minute, week_of_month=-1 if last else nth, day_of_week=6, timezone=zone),
    ]


DST_CASES = [
    # zone, DST day, requested hh:mm, expected UTC, expected local (as ISO), dst_shifted
    # Spring forward: the skipped wall time runs as fold=0 resolves it (an hour later).
    (NY, date(2025, 3, 9), 2, 30, utc(2025, 3, 9, 7, 30), "2025-03-09T03:30:00-04:00", True),
    (NY, date(2025, 3, 9), 2, 0, utc(2025, 3, 9, 7, 0), "2025-03-09T03:00:00-04:00", True),
    (NY, date(2025, 3, 9), 2, 59, utc(2025, 3, 9, 7, 59), "2025-03-09T03:59:00-04:00", True),
    (NY, date(2025, 3, 9), 1, 59, utc(2025, 3, 9, 6, 59), "2025-03-09T01:59:00-05:00", False),
    (NY, date(2025, 3, 9), 3, 0, utc(2025, 3, 9, 7, 0), "2025-03-09T03:00:00-04:00", False),
    (LONDON, date(2025, 3, 30), 1, 30, utc(2025, 3, 30, 1, 30), "2025-03-30T02:30:00+01:00", True),
    (LONDON, date(2025, 3, 30), 1, 0, utc(2025, 3, 30, 1, 0), "2025-03-30T02:00:00+01:00", True),
    (LONDON, date(2025, 3, 30), 2, 0, utc(2025, 3, 30, 1, 0), "2025-03-30T02:00:00+01:00", False),
    # Fall back: the repeated wall time runs once, at its first (summer time) occurrence.
    (NY, date(2025, 11, 2), 1, 30, utc(2025, 11, 2, 5, 30), "2025-11-02T01:30:00-04:00", True),
    (NY, date(2025, 11, 2), 1, 0, utc(2025, 11, 2, 5, 0), "2025-11-02T01:00:00-04:00", True),
    (NY, date(2025, 11, 2), 1, 59, utc(2025, 11, 2, 5, 59), "2025-11-02T01:59:00-04:00", True),
    (NY, date(2025, 11, 2), 2, 0, utc(2025, 11, 2, 7, 0), "2025-11-02T02:00:00-05:00", False),
    (NY, date(2025, 11, 2), 0, 59, utc(2025, 11, 2, 4, 59), "2025-11-02T00:59:00-04:00", False),
    (LONDON, date(2025, 10, 26), 1, 30, utc(2025, 10, 26, 0, 30), "2025-10-26T01:30:00+01:00", True),
    (LONDON, date(2025, 10, 26), 2, 0, utc(2025, 10, 26, 2, 0), "2025-10-26T02:00:00+00:00", False),
]  # fmt: skip


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly-day", "monthly-nth"])
@pytest.mark.parametrize(
    ("zone", "day", "hour", "minute", "expected_utc", "expected_local", "shifted"), DST_CASES
)
def test_dst_days_for_every_frequency(
    kind: str,
    zone: str,
    day: date,
    hour: int,
    minute: int,
    expected_utc: datetime,
    expected_local: str,
    shifted: bool,
) -> None:
    timing = _timings_on(day, zone, hour, minute)[
        ["daily", "weekly", "monthly-day", "monthly-nth"].index(kind)
    ]
    # From the local midnight starting the DST day, the first occurrence is that day's.
    midnight = local(zone, day.year, day.month, day.day)
    occ = next_occurrence(timing, midnight)
    assert occ.utc == expected_utc
    assert occ.utc.tzinfo is UTC
    assert occ.local.isoformat() == expected_local
    assert occ.local.tzinfo == ZoneInfo(zone)
    assert occ.dst_shifted is shifted
    # Asking from just before gives the same occurrence; from it, the next one (never the same).
    assert next_occurrence(timing, occ.utc - US) == occ
    following = next_occurrence(timing, occ.utc)
    assert following.utc > occ.utc
    assert (following.local.hour, following.local.minute) == (hour, minute)
    assert not following.dst_shifted


def test_fall_back_runs_once_at_the_first_occurrence() -> None:
    timing = Timing("DAILY", 1, 30, timezone=NY)
    runs = next_occurrences(timing, utc(2025, 10, 31), 4)
    assert [o.utc for o in runs] == [
        utc(2025, 10, 31, 5, 30),
        utc(2025, 11, 1, 5, 30),
        utc(2025, 11, 2, 5, 30),  # 01:30 EDT; 01:30 EST (06:30 UTC) is not an occurrence
        utc(2025, 11, 3, 6, 30),
    ]
    assert [o.dst_shifted for o in runs] == [False, False, True, False]


@pytest.mark.parametrize(
    "after",
    [
        utc(2025, 11, 2, 5, 30),  # exactly the first 01:30
        utc(2025, 11, 2, 5, 45),  # 01:45 EDT: after the first 01:30
        utc(2025, 11, 2, 6, 0),  # 01:00 EST: between the two 01:30s
        utc(2025, 11, 2, 6, 30),  # exactly the second 01:30
        local(NY, 2025, 11, 2, 1, 15, fold=1),  # the second 01:15, given in local time
        local(NY, 2025, 11, 2, 1, 45, fold=0),
    ],
)
def test_between_the_two_occurrences_of_a_repeated_hour(after: datetime) -> None:
    """The first 01:30 has passed: it is not returned again, and the second is no occurrence."""
    occ = next_occurrence(Timing("DAILY", 1, 30, timezone=NY), after)
    assert occ.utc == utc(2025, 11, 3, 6, 30)
    assert occ.local.isoformat() == "2025-11-03T01:30:00-05:00"
    assert not occ.dst_shifted


def test_spring_forward_daily_sequence() -> None:
    runs = next_occurrences(Timing("DAILY", 2, 30, timezone=NY), utc(2025, 3, 8), 3)
    assert [o.local.isoformat() for o in runs] == [
        "2025-03-08T02:30:00-05:00",
        "2025-03-09T03:30:00-04:00",
        "2025-03-10T02:30:00-04:00",
    ]
    assert [o.utc for o in runs] == [
        utc(2025, 3, 8, 7, 30),
        utc(2025, 3, 9, 7, 30),
        utc(2025, 3, 10, 6, 30),
    ]
    assert [o.dst_shifted for o in runs] == [False, True, False]


def test_contract_preview_example() -> None:
    """CONTRACT.md's preview/ example: 2027-03-14 03:30 EDT for a 02:30 New York schedule."""
    occ = next_occurrence(Timing("DAILY", 2, 30, timezone=NY), utc(2027, 3, 14))
    assert occ.utc == utc(2027, 3, 14, 7, 30)
    assert occ.local.isoformat() == "2027-03-14T03:30:00-04:00"
    assert occ.dst_shifted


def test_skipped_day_is_not_run_twice() -> None:
    """Pacific/Apia skipped 2011-12-30: its 10:00 resolves onto 12-31 10:00, which runs once."""
    runs = next_occurrences(Timing("DAILY", 10, timezone="Pacific/Apia"), utc(2011, 12, 29), 3)
    assert [o.local.isoformat() for o in runs] == [
        "2011-12-29T10:00:00-10:00",
        "2011-12-31T10:00:00+14:00",
        "2012-01-01T10:00:00+14:00",
    ]
    assert [o.dst_shifted for o in runs] == [False, True, False]


# --------------------------------------------------------------------------------------------
# Month ends

MONTH_ENDS_2027 = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
MONTH_ENDS_2028 = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


@pytest.mark.parametrize(
    ("day_of_month", "year", "expected_days"),
    [
        (31, 2027, MONTH_ENDS_2027),
        (31, 2028, MONTH_ENDS_2028),
        (-1, 2027, MONTH_ENDS_2027),
        (-1, 2028, MONTH_ENDS_2028),
        (30, 2027, [min(30, d) for d in MONTH_ENDS_2027]),
        (30, 2028, [min(30, d) for d in MONTH_ENDS_2028]),
        (29, 2027, [min(29, d) for d in MONTH_ENDS_2027]),
        (29, 2028, [29] * 12),
        (28, 2027, [28] * 12),
        (1, 2028, [1] * 12),
    ],
)
def test_day_of_month_over_a_year(day_of_month: int, year: int, expected_days: list[int]) -> None:
    timing = Timing("MONTHLY", 18, 30, day_of_month=day_of_month)
    runs = next_occurrences(timing, utc(year, 1, 1), 12)
    assert [o.local.date() for o in runs] == [
        date(year, month, day) for month, day in enumerate(expected_days, start=1)
    ]
    assert all((o.local.hour, o.local.minute) == (18, 30) for o in runs)
    assert not any(o.dst_shifted for o in runs)


def test_day_31_continues_past_short_months_and_years() -> None:
    timing = Timing("MONTHLY", 0, day_of_month=31, timezone="Asia/Kolkata")
    runs = next_occurrences(timing, utc(2027, 11, 1), 6)
    assert [o.local.date() for o in runs] == [
        date(2027, 11, 30),
        date(2027, 12, 31),
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    ]
    # 00:00 Kolkata is 18:30 UTC the day before.
    assert runs[0].utc == utc(2027, 11, 29, 18, 30)


# --------------------------------------------------------------------------------------------
# "2nd Tuesday" and "last Friday"

SECOND_TUESDAYS_2027 = [
    "2027-01-12", "2027-02-09", "2027-03-09", "2027-04-13", "2027-05-11", "2027-06-08",
    "2027-07-13", "2027-08-10", "2027-09-14", "2027-10-12", "2027-11-09", "2027-12-14",
]  # fmt: skip
LAST_FRIDAYS_2027 = [
    "2027-01-29", "2027-02-26", "2027-03-26", "2027-04-30", "2027-05-28", "2027-06-25",
    "2027-07-30", "2027-08-27", "2027-09-24", "2027-10-29", "2027-11-26", "2027-12-31",
]  # fmt: skip


def test_second_tuesday_over_a_year() -> None:
    timing = Timing("MONTHLY", 7, week_of_month=2, day_of_week=1, timezone="Europe/Berlin")
    runs = next_occurrences(timing, utc(2027, 1, 1), 12)
    assert [o.local.date().isoformat() for o in runs] == SECOND_TUESDAYS_2027
    assert all(o.local.weekday() == 1 and o.local.hour == 7 for o in runs)
    # Berlin is UTC+1 in winter and UTC+2 in summer (2027-03-28 .. 2027-10-31).
    assert [o.utc.hour for o in runs] == [6, 6, 6, 5, 5, 5, 5, 5, 5, 5, 6, 6]


def test_last_friday_over_a_year() -> None:
    timing = Timing("MONTHLY", 17, week_of_month=-1, day_of_week=4, timezone=NY)
    runs = next_occurrences(timing, utc(2027, 1, 1), 12)
    assert [o.local.date().isoformat() for o in runs] == LAST_FRIDAYS_2027
    assert all(o.local.weekday() == 4 and o.local.hour == 17 for o in runs)
    assert runs[-1].utc == utc(2027, 12, 31, 22, 0)


@pytest.mark.parametrize(
    ("week_of_month", "expected"),
    [(1, date(2028, 2, 1)), (3, date(2028, 2, 15)), (4, date(2028, 2, 22)), (-1, date(2028, 2, 29))],
)
def test_nth_weekday_in_a_leap_february(week_of_month: int, expected: date) -> None:
    timing = Timing("MONTHLY", 9, week_of_month=week_of_month, day_of_week=1)
    assert next_occurrence(timing, utc(2028, 1, 31)).local.date() == expected


# --------------------------------------------------------------------------------------------
# Offsets that are not whole hours


def test_kolkata_half_hour_offset() -> None:
    timing = Timing("DAILY", 9, 0, timezone="Asia/Kolkata")
    runs = next_occurrences(timing, utc(2026, 6, 1, 3, 30), 2)  # exactly 09:00 IST
    assert [o.utc for o in runs] == [utc(2026, 6, 2, 3, 30), utc(2026, 6, 3, 3, 30)]
    assert runs[0].local.isoformat() == "2026-06-02T09:00:00+05:30"
    assert not runs[0].dst_shifted


def test_kolkata_local_date_differs_from_utc_date() -> None:
    timing = Timing("WEEKLY", 0, 15, day_of_week=0, timezone="Asia/Kolkata")  # Monday 00:15
    occ = next_occurrence(timing, utc(2026, 6, 1))  # 2026-06-01 is a Monday, 05:30 IST
    assert occ.local.isoformat() == "2026-06-08T00:15:00+05:30"
    assert occ.utc == utc(2026, 6, 7, 18, 45)  # Sunday in UTC


def test_lord_howe_half_hour_dst() -> None:
    """Lord Howe moves its clocks by 30 minutes: 2025-10-05 02:00 -> 02:30."""
    timing = Timing("DAILY", 2, 15, timezone="Australia/Lord_Howe")
    occ = next_occurrence(timing, utc(2025, 10, 4, 12))
    assert occ.local.isoformat() == "2025-10-05T02:45:00+11:00"
    assert occ.dst_shifted


# --------------------------------------------------------------------------------------------
# Strictly after


def test_strictly_after_an_exact_occurrence() -> None:
    timing = Timing("DAILY", 8)
    assert next_occurrence(timing, utc(2025, 1, 1, 8)).utc == utc(2025, 1, 2, 8)
    assert next_occurrence(timing, utc(2025, 1, 1, 8) - US).utc == utc(2025, 1, 1, 8)
    assert next_occurrence(timing, utc(2025, 1, 1, 8) + US).utc == utc(2025, 1, 2, 8)


def test_strictly_after_is_compared_in_utc_whatever_the_zone_of_after() -> None:
    timing = Timing("DAILY", 8, timezone=NY)  # 13:00 UTC in winter
    same_instant = [
        utc(2025, 1, 1, 13),
        datetime(2025, 1, 1, 13),  # naive means UTC
        local(NY, 2025, 1, 1, 8),
        local("Asia/Tokyo", 2025, 1, 1, 22),
    ]
    for after in same_instant:
        assert next_occurrence(timing, after).utc == utc(2025, 1, 2, 13)


def test_many_occurrences_are_strictly_increasing() -> None:
    runs = next_occurrences(Timing("MONTHLY", 23, 59, day_of_month=31, timezone=NY), utc(2025, 1, 1), 50)
    assert len(runs) == 50
    assert all(a.utc < b.utc for a, b in zip(runs, runs[1:], strict=False))
    assert len({(o.local.year, o.local.month) for o in runs}) == 50


def test_next_occurrences_are_chained_next_occurrence() -> None:
    timing = Timing("WEEKLY", 1, 30, day_of_week=6, timezone=LONDON)
    runs = next_occurrences(timing, utc(2025, 10, 1), 8)
    after = utc(2025, 10, 1)
    for occ in runs:
        assert next_occurrence(timing, after) == occ
        after = occ.utc


# --------------------------------------------------------------------------------------------
# The seed's UTC examples and interface


NOW = utc(2024, 3, 15, 10, 30)  # a Friday


def test_seed_daily_8am() -> None:
    assert ScheduleCalculator._calculate_daily_next_run(NOW, 8) == utc(2024, 3, 16, 8)
    assert ScheduleCalculator._calculate_daily_next_run(utc(2024, 3, 15, 7), 8) == utc(2024, 3, 15, 8)


def test_seed_weekly_monday_9am() -> None:
    assert ScheduleCalculator._calculate_weekly_next_run(NOW, 9, 0) == utc(2024, 3, 18, 9)
    # On a Monday after 09:00, the next is a week later.
    assert ScheduleCalculator._calculate_weekly_next_run(utc(2024, 3, 18, 9), 9, 0) == utc(2024, 3, 25, 9)


def test_seed_monthly_first_at_midnight() -> None:
    assert ScheduleCalculator._calculate_monthly_next_run(NOW, 0, 1) == utc(2024, 4, 1)
    assert ScheduleCalculator._calculate_monthly_next_run(utc(2024, 12, 1), 0, 1) == utc(2025, 1, 1)


def test_seed_methods_take_minute_timezone_and_naive_now() -> None:
    naive_now = datetime(2025, 3, 8, 12)
    assert ScheduleCalculator._calculate_daily_next_run(naive_now, 2, 30, NY) == utc(2025, 3, 9, 7, 30)
    assert ScheduleCalculator._calculate_weekly_next_run(naive_now, 9, 6, 15, LONDON) == utc(
        2025, 3, 9, 9, 15
    )
    assert ScheduleCalculator._calculate_monthly_next_run(
        naive_now, 7, timezone=NY, week_of_month=2, day_of_week=1
    ) == utc(2025, 3, 11, 11)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"frequency": "DAILY", "hour": 8}, utc(2024, 3, 16, 8)),
        ({"frequency": "WEEKLY", "hour": 9, "day_of_week": 0}, utc(2024, 3, 18, 9)),
        ({"frequency": "MONTHLY", "hour": 0, "day_of_month": 1}, utc(2024, 4, 1)),
    ],
)
def test_calculate_next_run_from_a_schedule(fields: dict[str, object], expected: datetime) -> None:
    schedule = SimpleNamespace(
        minute=None, day_of_week=None, day_of_month=None, week_of_month=None, timezone=None
    )
    vars(schedule).update(fields)
    assert ScheduleCalculator.calculate_next_run(schedule, NOW) == expected


def test_calculate_next_run_defaults_to_now() -> None:
    schedule = SimpleNamespace(frequency="DAILY", hour=8, minute=0, timezone="UTC")
    before = datetime.now(UTC)
    result = ScheduleCalculator.calculate_next_run(schedule)
    assert result.tzinfo is UTC
    assert before < result <= before + timedelta(days=1)


# --------------------------------------------------------------------------------------------
# timing_of, describe_timing


class Frequency(enum.Enum):
    WEEKLY = "WEEKLY"


def test_timing_of_fills_defaults() -> None:
    obj = SimpleNamespace(
        frequency="DAILY",
        hour=8,
        minute=None,
        day_of_week=None,
        day_of_month=None,
        week_of_month=None,
        timezone=None,
    )
    assert timing_of(obj) == Timing("DAILY", 8, 0, timezone="UTC")


def test_timing_of_reads_every_field_and_enum_frequency() -> None:
    obj = SimpleNamespace(
        frequency=Frequency.WEEKLY,
        hour=9,
        minute=45,
        day_of_week=2,
        day_of_month=None,
        week_of_month=None,
        timezone=LONDON,
    )
    assert timing_of(obj) == Timing("WEEKLY", 9, 45, day_of_week=2, timezone=LONDON)


def test_timing_of_rejects_bad_objects() -> None:
    with pytest.raises(ValueError, match="day_of_week"):
        timing_of(SimpleNamespace(frequency="WEEKLY", hour=9))
    with pytest.raises(ValueError, match="hour"):
        timing_of(SimpleNamespace(frequency="DAILY", hour=None))


@pytest.mark.parametrize(
    ("timing", "text"),
    [
        (Timing("DAILY", 8, timezone=LONDON), "Every day at 08:00 (Europe/London)"),
        (Timing("WEEKLY", 9, day_of_week=0), "Every Monday at 09:00 (UTC)"),
        (Timing("WEEKLY", 21, 5, day_of_week=6, timezone=NY), "Every Sunday at 21:05 (America/New_York)"),
        (Timing("MONTHLY", 0, day_of_month=1), "Monthly on day 1 at 00:00 (UTC)"),
        (Timing("MONTHLY", 18, 30, day_of_month=-1), "Monthly on the last day at 18:30 (UTC)"),
        (Timing("MONTHLY", 7, week_of_month=2, day_of_week=1), "Monthly on the 2nd Tuesday at 07:00 (UTC)"),
        (Timing("MONTHLY", 17, week_of_month=-1, day_of_week=4), "Monthly on the last Friday at 17:00 (UTC)"),
        (Timing("MONTHLY", 6, week_of_month=1, day_of_week=2), "Monthly on the 1st Wednesday at 06:00 (UTC)"),
        (Timing("MONTHLY", 6, week_of_month=3, day_of_week=5), "Monthly on the 3rd Saturday at 06:00 (UTC)"),
        (Timing("MONTHLY", 6, week_of_month=4, day_of_week=3), "Monthly on the 4th Thursday at 06:00 (UTC)"),
    ],
)
def test_describe_timing(timing: Timing, text: str) -> None:
    assert describe_timing(timing) == text


# --------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"frequency": "HOURLY", "hour": 1}, "frequency"),
        ({"frequency": "daily", "hour": 1}, "frequency"),
        ({"frequency": "DAILY", "hour": 24}, "hour"),
        ({"frequency": "DAILY", "hour": -1}, "hour"),
        ({"frequency": "DAILY", "hour": True}, "hour"),
        ({"frequency": "DAILY", "hour": 8.0}, "hour"),
        ({"frequency": "DAILY", "hour": "8"}, "hour"),
        ({"frequency": "DAILY", "hour": 8, "minute": 60}, "minute"),
        ({"frequency": "DAILY", "hour": 8, "minute": None}, "minute"),
        ({"frequency": "DAILY", "hour": 8, "timezone": "Mars/Olympus"}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": "utc"}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": ""}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": "../etc/passwd"}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": "/etc/localtime"}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": "localtime"}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": "right/UTC"}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": None}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "timezone": ["UTC"]}, "timezone"),
        ({"frequency": "DAILY", "hour": 8, "day_of_week": 1}, "DAILY"),
        ({"frequency": "DAILY", "hour": 8, "day_of_month": 1}, "DAILY"),
        ({"frequency": "WEEKLY", "hour": 8}, "day_of_week"),
        ({"frequency": "WEEKLY", "hour": 8, "day_of_week": 7}, "day_of_week"),
        ({"frequency": "WEEKLY", "hour": 8, "day_of_week": -1}, "day_of_week"),
        ({"frequency": "WEEKLY", "hour": 8, "day_of_week": 1, "day_of_month": 3}, "WEEKLY"),
        ({"frequency": "MONTHLY", "hour": 8}, "MONTHLY"),
        ({"frequency": "MONTHLY", "hour": 8, "day_of_month": 0}, "day_of_month"),
        ({"frequency": "MONTHLY", "hour": 8, "day_of_month": 32}, "day_of_month"),
        ({"frequency": "MONTHLY", "hour": 8, "day_of_month": -2}, "day_of_month"),
        ({"frequency": "MONTHLY", "hour": 8, "week_of_month": 2}, "MONTHLY"),
        ({"frequency": "MONTHLY", "hour": 8, "day_of_week": 2}, "MONTHLY"),
        ({"frequency": "MONTHLY", "hour": 8, "week_of_month": 5, "day_of_week": 1}, "week_of_month"),
        ({"frequency": "MONTHLY", "hour": 8, "week_of_month": 0, "day_of_week": 1}, "week_of_month"),
        (
            {"frequency": "MONTHLY", "hour": 8, "day_of_month": 1, "week_of_month": 1, "day_of_week": 1},
            "not both",
        ),
        ({"frequency": "MONTHLY", "hour": 8, "day_of_month": 1, "day_of_week": 1}, "not both"),
    ],
)
def test_invalid_timings_raise_value_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Timing(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, -1, 1.5, True, None])
def test_invalid_count(count: object) -> None:
    with pytest.raises(ValueError, match="count"):
        next_occurrences(Timing("DAILY", 8), utc(2025, 1, 1), count)  # type: ignore[arg-type]


def test_invalid_after() -> None:
    with pytest.raises(ValueError):
        next_occurrence(Timing("DAILY", 8), "2025-01-01")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        next_occurrence(Timing("DAILY", 8), date(2025, 1, 1))  # type: ignore[arg-type]


def test_end_of_time_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="no 1 occurrence"):
        next_occurrence(Timing("DAILY", 8), datetime.max)
    with pytest.raises(ValueError, match="no 3 occurrence"):
        next_occurrences(Timing("MONTHLY", 8, day_of_month=31), utc(9999, 11, 1), 3)
    tz_max = datetime.max.replace(tzinfo=ZoneInfo("Pacific/Kiritimati"))
    with pytest.raises(ValueError):
        next_occurrence(Timing("DAILY", 8), tz_max)


def test_occurrence_is_a_value() -> None:
    occ = next_occurrence(Timing("DAILY", 8), utc(2025, 1, 1))
    assert occ == Occurrence(utc(2025, 1, 1, 8), utc(2025, 1, 1, 8), False)
    with pytest.raises(AttributeError):
        occ.utc = utc(2000, 1, 1)  # type: ignore[misc]
