"""The schedule in one sentence, the period that fits a frequency, and the warning when it does not."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard.exports.filters import date_range_bounds
from dashboard.services.schedule_words import (
    covered_period,
    period_for_frequency,
    period_mismatch,
    schedule_sentence,
    suggested_name,
)

LONDON = ZoneInfo("Europe/London")
MORNING = {
    "name": "x",
    "export_type": "SALES",
    "format": "excel",
    "frequency": "DAILY",
    "hour": 7,
    "minute": 0,
    "timezone": "Europe/London",
    "filters": {"date_range": "yesterday"},
}


def test_the_issue_s_sentence_word_for_word():
    next_run = datetime(2026, 12, 6, 7, 0, tzinfo=LONDON)
    assert schedule_sentence(MORNING, next_run) == (
        "Every day at 07:00 Europe/London you'll get yesterday's sales as Excel. "
        "Next: Sun 6 Dec, covering Sat 5 Dec."
    )


@pytest.mark.parametrize(
    ("changes", "run", "expected"),
    [
        (
            {"frequency": "WEEKLY", "day_of_week": 0, "hour": 8, "filters": {"date_range": "previous_week"}},
            datetime(2026, 12, 7, 8, tzinfo=LONDON),
            "Every Monday at 08:00 Europe/London you'll get last week's sales as Excel. "
            "Next: Mon 7 Dec, covering Mon 30 Nov to Sun 6 Dec.",
        ),
        (
            {
                "export_type": "INVENTORY",
                "frequency": "MONTHLY",
                "day_of_month": -1,
                "hour": 20,
                "format": "pdf",
                "filters": {"exclude_zero_value": True},
            },
            datetime(2026, 12, 31, 20, tzinfo=LONDON),
            "On the last day of each month at 20:00 Europe/London you'll get your inventory as PDF. "
            "Next: Thu 31 Dec.",
        ),
        (
            {"frequency": "MONTHLY", "day_of_month": 1, "filters": {"date_range": "previous_month"}},
            datetime(2027, 1, 1, 7, tzinfo=LONDON),
            "On day 1 of each month at 07:00 Europe/London you'll get last month's sales as Excel. "
            "Next: Fri 1 Jan, covering December 2026.",
        ),
        (
            {
                "export_type": "AUDIT_LOGS",
                "frequency": "WEEKLY",
                "day_of_week": 4,
                "hour": 17,
                "filters": {"date_range": "week_to_date"},
                "formats": ["excel", "csv"],
            },
            datetime(2026, 12, 11, 17, tzinfo=LONDON),
            "Every Friday at 17:00 Europe/London you'll get this week's audit log as Excel and CSV. "
            "Next: Fri 11 Dec, covering Mon 7 Dec to Fri 11 Dec.",
        ),
        (
            {
                "frequency": "MONTHLY",
                "week_of_month": 2,
                "day_of_week": 1,
                "export_type": "CUSTOMERS",
                "filters": {"include_credit_history": True},
            },
            None,
            "On the 2nd Tuesday of each month at 07:00 Europe/London you'll get your customers with their "
            "store credit as Excel.",
        ),
    ],
)
def test_sentences_for_other_schedules(changes, run, expected):
    assert schedule_sentence({**MORNING, **changes}, run) == expected


def test_custom_dates_are_named():
    values = {**MORNING, "filters": {"start_date": "2026-11-01", "end_date": "2026-11-30"}}
    assert "the sales of Sun 1 Nov to Mon 30 Nov" in schedule_sentence(values)
    assert (
        covered_period(values["filters"], datetime(2026, 12, 6, tzinfo=LONDON)) == "Sun 1 Nov to Mon 30 Nov"
    )


@pytest.mark.parametrize(
    ("frequency", "period"),
    [("DAILY", "yesterday"), ("WEEKLY", "previous_week"), ("MONTHLY", "previous_month")],
)
def test_the_period_follows_the_frequency_and_then_fits_it(frequency, period):
    assert period_for_frequency(frequency) == period
    assert period_mismatch(frequency, period) is None


def test_a_month_end_report_of_one_day_is_warned_about():
    warning = period_mismatch("MONTHLY", "yesterday")
    assert warning == (
        "This runs every month but covers “Yesterday”: the rest of each month is never sent. "
        "“Previous month” covers each month once."
    )


def test_sending_the_same_week_every_day_is_warned_about():
    warning = period_mismatch("DAILY", "previous_week")
    assert "each run sends days an earlier run already sent" in warning
    assert "“Yesterday” covers each day once." in warning


@pytest.mark.parametrize("frequency", ["DAILY", "WEEKLY", "MONTHLY"])
@pytest.mark.parametrize("period", ["week_to_date", "month_to_date", "year_to_date", None, ""])
def test_running_totals_and_no_period_are_never_warned_about(frequency, period):
    assert period_mismatch(frequency, period) is None


def test_week_to_date_runs_from_monday_to_today():
    assert date_range_bounds("week_to_date", date(2026, 12, 11)) == (date(2026, 12, 7), date(2026, 12, 11))
    assert date_range_bounds("week_to_date", date(2026, 12, 7)) == (date(2026, 12, 7), date(2026, 12, 7))


def test_a_suggested_name_says_what_and_when():
    assert suggested_name(MORNING) == "Yesterday's sales, every day at 07:00"
    inventory = {
        **MORNING,
        "export_type": "INVENTORY",
        "frequency": "MONTHLY",
        "day_of_month": -1,
        "filters": {},
    }
    assert suggested_name(inventory) == "Inventory, on the last day of each month at 07:00"
