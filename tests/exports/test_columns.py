"""Cell values: the formula guard, control characters, Excel's cell limit, money, business time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from dashboard.exports.columns import (
    EXCEL_MAX_CHARS,
    TRUNCATED_MARKER,
    Column,
    GuardedText,
    LocalTime,
    Totals,
    build_row_converter,
    csv_text,
    excel_text,
    guard_formula,
    money,
)

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(
    "value, guarded",
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Zoë = friend", "Zoë = friend"),
        ("", ""),
        (None, None),
    ],
)
def test_formula_guard(value, guarded):
    assert guard_formula(value) == guarded
    assert csv_text(value) == guarded
    # Excel marks it instead (a text cell with the quote-prefix style): no ' in the text.
    excel = excel_text(value)
    assert excel == value
    assert isinstance(excel, GuardedText) == (guarded != value)


def test_control_characters_are_dropped_but_tabs_and_newlines_stay():
    assert csv_text("Bad\x00\x01Na\x1fme\x7f") == "BadName\x7f"
    assert excel_text("Line 1\nLine 2\tcol\r\n") == "Line 1\nLine 2\tcol\r\n"
    # Dropping a leading control character can expose a formula: the guard runs after it.
    assert excel_text("\x01=1+1") == "=1+1" and isinstance(excel_text("\x01=1+1"), GuardedText)


def test_excel_text_is_cut_to_the_cell_limit_with_a_marker():
    long = "é" * 40_000
    cut = excel_text(long)
    assert len(cut) == EXCEL_MAX_CHARS
    assert cut.endswith(TRUNCATED_MARKER)
    assert excel_text("x" * EXCEL_MAX_CHARS) == "x" * EXCEL_MAX_CHARS
    assert len(excel_text("=" + "x" * EXCEL_MAX_CHARS)) == EXCEL_MAX_CHARS
    assert csv_text(long) == long  # CSV has no cell limit


def test_money_is_exact_with_two_places():
    assert money(1200) == Decimal("12.00") and str(money(1200)) == "12.00"
    assert str(money(-5)) == "-0.05"
    assert str(money(0)) == "0.00"
    assert str(money(123456789012345)) == "1234567890123.45"
    assert money(None) is None


@pytest.mark.parametrize(
    "tz",
    ["America/New_York", "Europe/London", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"],
)
def test_local_time_matches_zoneinfo_minute_by_minute_across_transitions(tz):
    """The per-hour offset cache is exact, including zones whose changes fall at half past a UTC hour."""
    local = LocalTime(tz)
    zone = ZoneInfo(tz)
    for start in (datetime(2024, 3, 9, 0, 0), datetime(2024, 10, 5, 0, 0), datetime(2024, 11, 2, 0, 0)):
        for minutes in range(0, 3 * 24 * 60, 7):
            naive_utc = start + timedelta(minutes=minutes, seconds=13)
            expected = naive_utc.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
            assert local.datetime(naive_utc) == expected, (tz, naive_utc)


def test_local_time_details():
    local = LocalTime("America/New_York")
    # Spring forward: 06:59 UTC is 01:59 EST, 07:00 UTC is 03:00 EDT.
    assert local.datetime(datetime(2024, 3, 10, 6, 59)) == datetime(2024, 3, 10, 1, 59)
    assert local.datetime(datetime(2024, 3, 10, 7, 0)) == datetime(2024, 3, 10, 3, 0)
    # Microseconds are dropped; aware values are accepted.
    assert local.datetime(datetime(2024, 1, 1, 12, 0, 0, 999999)) == datetime(2024, 1, 1, 7, 0)
    assert local.datetime(datetime(2024, 1, 1, 12, 0, tzinfo=UTC)) == datetime(2024, 1, 1, 7, 0)
    assert local.date(datetime(2024, 1, 1, 3, 0)) == date(2023, 12, 31)
    assert local.date(date(2024, 1, 1)) == date(2024, 1, 1)
    assert local.datetime(None) is None


def test_row_converter_and_totals():
    columns = [
        Column("Name", "text"),
        Column("When", "datetime"),
        Column("Since", "date"),
        Column("Count", "int", total=True),
        Column("Amount", "money", total=True),
        Column("Flag", "bool"),
    ]
    convert = build_row_converter(columns, "Europe/London", text=csv_text)
    row = convert(("=x", datetime(2024, 7, 1, 12, 0), datetime(2024, 7, 1, 23, 30), 3, 1999, 1))
    assert row == ("'=x", datetime(2024, 7, 1, 13, 0), date(2024, 7, 2), 3, Decimal("19.99"), True)
    assert convert((None, None, None, None, None, None)) == (None,) * 6
    totals = Totals(columns)
    totals.add([row, convert(("y", None, None, 2, -99, 0)), convert((None,) * 6)])
    assert totals.count == 3
    assert totals.row("Total") == ["Total", None, None, 5, Decimal("19.00"), None]
    with pytest.raises(ValueError):
        Column("Bad", "float")


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_converter_shifts_datetimes_as_local_time_does(tz):
    """The converter's inline shift (a known day's offset) gives what LocalTime.datetime gives,
    hour by hour over two years with their transitions, with fractions, aware values and None."""
    convert = build_row_converter([Column("When", "datetime")], tz)
    local = LocalTime(tz)
    start = datetime(2023, 1, 1)
    values = [start + timedelta(minutes=37 * n) for n in range(2 * 365 * 24 * 60 // 37)]
    values += [datetime(2024, 3, 31, 0, 59, 59, 999999), datetime(2024, 10, 27, 1, 0, tzinfo=UTC), None]
    values += [datetime.min, datetime.max.replace(microsecond=0)]
    for value in values + values:  # the second pass reads the offsets the first one kept
        assert convert((value,)) == (local.datetime(value),), value


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "UTC"])
def test_cells_as_text_are_what_str_gives_the_typed_values(tz):
    """`as_text` (CSV): money and datetimes as the text the csv module's str() made of them."""
    columns = [Column("When", "datetime"), Column("Amount", "money"), Column("Name", "text")]
    typed = build_row_converter(columns, tz, text=csv_text)
    as_text = build_row_converter(columns, tz, text=csv_text, text_max=None, as_text=True)
    cents = [0, 1, 9, 10, 99, 100, 101, 123456, -1, -99, -100, -123456, 2**63 - 1, -(2**63), None]
    cents += [Decimal("0"), Decimal("1999"), Decimal("-5"), Decimal("12.5")]  # PostgreSQL's sums
    moments = [datetime(2024, 3, 31, 0, 30, 5), datetime(2024, 10, 27, 1, 30), datetime(999, 1, 2, 3, 4, 5)]
    moments += [datetime(2024, 7, 1, 23, 59, 59, 900000), datetime.min, datetime.max, None]
    for moment in moments * 2:  # the second pass reads the days the first one kept
        for amount in cents:
            expected = tuple(None if v is None else str(v) for v in typed((moment, amount, "=x")))
            assert as_text((moment, amount, "=x")) == expected, (moment, amount)
            assert expected[2] == "'=x"
    noon_utc = {"UTC": "2024-07-01 12:00:00", "America/New_York": "2024-07-01 08:00:00"}
    noon_utc["Europe/London"] = "2024-07-01 13:00:00"
    assert as_text((datetime(2024, 7, 1, 12, 0), 1999, None)) == (noon_utc[tz], "19.99", None)
