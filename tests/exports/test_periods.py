"""File names, subjects and previous periods by the data's period (CONTRACT section 6)."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.exports.periods import period_label, period_slug, previous_period

pytestmark = pytest.mark.nodb

RUN_DAY = date(2026, 12, 5)


@pytest.mark.parametrize(
    "start, end, slug, label",
    [
        ("2026-12-04", "2026-12-04", "2026-12-04", "4 Dec 2026"),
        ("2026-11-23", "2026-11-29", "2026-W48", "week 48 of 2026 (23–29 Nov)"),
        ("2026-11-30", "2026-12-06", "2026-W49", "week 49 of 2026 (30 Nov – 6 Dec)"),
        # ISO week 1 of 2026 starts on Monday 29 December 2025.
        ("2025-12-29", "2026-01-04", "2026-W01", "week 1 of 2026 (29 Dec – 4 Jan)"),
        ("2026-11-01", "2026-11-30", "2026-11", "November 2026"),
        ("2024-02-01", "2024-02-29", "2024-02", "February 2024"),
        ("2026-11-05", "2026-12-04", "2026-11-05_to_2026-12-04", "5 Nov 2026 – 4 Dec 2026"),
        # Seven days that are not Monday-Sunday, a month that does not start on the 1st: ranges.
        ("2026-11-24", "2026-11-30", "2026-11-24_to_2026-11-30", "24 Nov 2026 – 30 Nov 2026"),
        ("2026-11-02", "2026-11-30", "2026-11-02_to_2026-11-30", "2 Nov 2026 – 30 Nov 2026"),
        ("2026-01-01", "2026-12-31", "2026-01-01_to_2026-12-31", "1 Jan 2026 – 31 Dec 2026"),
    ],
)
def test_a_period_names_the_file_and_the_subject(start, end, slug, label):
    filters = {"date_range": "whatever", "start_date": start, "end_date": end}
    assert period_slug(filters, RUN_DAY) == slug
    assert period_label(filters) == label


@pytest.mark.parametrize(
    "filters", [{}, None, {"include_credit_history": True}, {"start_date": "2026-01-01"}]
)
def test_without_a_period_the_run_date_names_the_file(filters):
    assert period_slug(filters, RUN_DAY) == "2026-12-05"
    assert period_label(filters) == ""


@pytest.mark.parametrize(
    "start, end, before",
    [
        (date(2026, 12, 4), date(2026, 12, 4), (date(2026, 12, 3), date(2026, 12, 3))),
        (date(2026, 11, 23), date(2026, 11, 29), (date(2026, 11, 16), date(2026, 11, 22))),
        (date(2026, 3, 1), date(2026, 3, 31), (date(2026, 2, 1), date(2026, 2, 28))),
        (date(2026, 1, 1), date(2026, 1, 31), (date(2025, 12, 1), date(2025, 12, 31))),
        (date(2026, 11, 5), date(2026, 12, 4), (date(2026, 10, 6), date(2026, 11, 4))),
    ],
)
def test_the_previous_period(start, end, before):
    assert previous_period(start, end) == before
