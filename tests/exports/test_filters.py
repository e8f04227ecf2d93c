"""Filters: validation (every bad input is a field error) and date_range resolution (pure, with now)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dashboard.core.errors import ValidationError
from dashboard.exports.filters import (
    DATE_RANGES,
    FILTER_FIELDS,
    FilterValidationError,
    describe_filters,
    filters_for_rerun,
    resolve_filters,
    validate_export_request,
    validate_filters,
)

pytestmark = pytest.mark.nodb


def period(export_type: str, date_range: str, tz: str, now: datetime) -> tuple[str, str]:
    resolved = resolve_filters(export_type, {"date_range": date_range}, tz, now)
    assert resolved["date_range"] == date_range  # kept beside the dates
    return resolved["start_date"], resolved["end_date"]


# Friday 15 March 2024, noon UTC (a leap year: February has 29 days).
MID_MARCH = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "date_range, expected",
    [
        ("today", ("2024-03-15", "2024-03-15")),
        ("yesterday", ("2024-03-14", "2024-03-14")),
        ("last_7_days", ("2024-03-08", "2024-03-14")),
        ("last_30_days", ("2024-02-14", "2024-03-14")),
        ("previous_week", ("2024-03-04", "2024-03-10")),
        ("previous_month", ("2024-02-01", "2024-02-29")),
        ("week_to_date", ("2024-03-11", "2024-03-15")),
        ("month_to_date", ("2024-03-01", "2024-03-15")),
        ("year_to_date", ("2024-01-01", "2024-03-15")),
    ],
)
def test_every_date_range_at_a_fixed_now(date_range, expected):
    assert period("SALES", date_range, "UTC", MID_MARCH) == expected
    assert period("AUDIT_LOGS", date_range, "UTC", MID_MARCH) == expected


def test_the_table_covers_every_date_range():
    assert set(DATE_RANGES) == {
        "today",
        "yesterday",
        "last_7_days",
        "last_30_days",
        "previous_week",
        "previous_month",
        "week_to_date",
        "month_to_date",
        "year_to_date",
    }


# 1 January 2024 03:00 UTC is still 31 December 2023 (a Sunday) 22:00 in New York.
NEW_YEAR = datetime(2024, 1, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "date_range, new_york, utc",
    [
        ("today", ("2023-12-31", "2023-12-31"), ("2024-01-01", "2024-01-01")),
        ("yesterday", ("2023-12-30", "2023-12-30"), ("2023-12-31", "2023-12-31")),
        ("last_7_days", ("2023-12-24", "2023-12-30"), ("2023-12-25", "2023-12-31")),
        ("last_30_days", ("2023-12-01", "2023-12-30"), ("2023-12-02", "2023-12-31")),
        ("previous_week", ("2023-12-18", "2023-12-24"), ("2023-12-25", "2023-12-31")),
        ("previous_month", ("2023-11-01", "2023-11-30"), ("2023-12-01", "2023-12-31")),
        ("month_to_date", ("2023-12-01", "2023-12-31"), ("2024-01-01", "2024-01-01")),
        ("year_to_date", ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-01-01")),
    ],
)
def test_across_a_year_boundary_in_a_non_utc_timezone(date_range, new_york, utc):
    assert period("SALES", date_range, "America/New_York", NEW_YEAR) == new_york
    assert period("SALES", date_range, "UTC", NEW_YEAR) == utc


# 1 March 2024 02:00 UTC: 29 February 18:00 in Los Angeles, 1 March 11:00 in Tokyo.
LEAP_MONTH_END = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "date_range, los_angeles, tokyo",
    [
        ("today", ("2024-02-29", "2024-02-29"), ("2024-03-01", "2024-03-01")),
        ("yesterday", ("2024-02-28", "2024-02-28"), ("2024-02-29", "2024-02-29")),
        ("previous_month", ("2024-01-01", "2024-01-31"), ("2024-02-01", "2024-02-29")),
        ("month_to_date", ("2024-02-01", "2024-02-29"), ("2024-03-01", "2024-03-01")),
        ("previous_week", ("2024-02-19", "2024-02-25"), ("2024-02-19", "2024-02-25")),
    ],
)
def test_across_a_month_boundary(date_range, los_angeles, tokyo):
    assert period("AUDIT_LOGS", date_range, "America/Los_Angeles", LEAP_MONTH_END) == los_angeles
    assert period("AUDIT_LOGS", date_range, "Asia/Tokyo", LEAP_MONTH_END) == tokyo


def test_a_naive_now_means_utc():
    naive = datetime(2024, 1, 1, 3, 0)
    assert period("SALES", "today", "America/New_York", naive) == ("2023-12-31", "2023-12-31")


def test_resolution_is_pure_and_keeps_other_keys():
    filters = {"start_date": "2024-01-01", "end_date": "2024-01-31"}
    assert resolve_filters("SALES", filters, "UTC", MID_MARCH) == filters
    assert filters == {"start_date": "2024-01-01", "end_date": "2024-01-31"}
    assert resolve_filters("CUSTOMERS", {"include_credit_history": True}, "UTC", MID_MARCH) == {
        "include_credit_history": True
    }


def test_rerun_filters_pin_the_resolved_period():
    resolved = resolve_filters("SALES", {"date_range": "previous_month"}, "UTC", MID_MARCH)
    pinned = filters_for_rerun(resolved)
    assert pinned == {"start_date": "2024-02-01", "end_date": "2024-02-29"}
    # A month later the rerun still covers February.
    later = datetime(2024, 4, 20, tzinfo=UTC)
    assert resolve_filters("SALES", pinned, "UTC", later) == pinned


@pytest.mark.parametrize(
    "export_type, filters, normalized",
    [
        ("SALES", {"start_date": "2024-01-01", "end_date": "2024-01-01"}, None),
        ("SALES", {"date_range": "today"}, None),
        (
            "AUDIT_LOGS",
            {"date_range": "year_to_date", "start_date": None, "end_date": ""},
            {"date_range": "year_to_date"},
        ),
        (
            "SALES",
            {"start_date": date(2024, 1, 2), "end_date": "2024-02-03"},
            {"start_date": "2024-01-02", "end_date": "2024-02-03"},
        ),
        ("CUSTOMERS", {}, None),
        ("CUSTOMERS", None, {}),
        ("CUSTOMERS", {"include_credit_history": False}, None),
        ("INVENTORY", {"exclude_zero_value": True}, None),
        ("sales", {"date_range": "today"}, None),
    ],
)
def test_valid_filters(export_type, filters, normalized):
    expected = normalized if normalized is not None else filters
    assert validate_filters(export_type, filters) == expected


@pytest.mark.parametrize(
    "export_type, filters, field",
    [
        ("SALES", [], "filters"),
        ("SALES", "date_range=today", "filters"),
        ("SALES", {}, "filters.date_range"),
        ("SALES", {"start_date": "2024-01-01"}, "filters.end_date"),
        ("SALES", {"end_date": "2024-01-01"}, "filters.start_date"),
        ("SALES", {"start_date": "2024-02-02", "end_date": "2024-02-01"}, "filters.end_date"),
        ("SALES", {"start_date": "2024-02-30", "end_date": "2024-03-01"}, "filters.start_date"),
        ("SALES", {"start_date": "01/02/2024", "end_date": "2024-03-01"}, "filters.start_date"),
        ("SALES", {"start_date": 20240101, "end_date": "2024-03-01"}, "filters.start_date"),
        ("SALES", {"start_date": "2024-01-01T00:00", "end_date": "2024-03-01"}, "filters.start_date"),
        ("SALES", {"date_range": "last_year"}, "filters.date_range"),
        ("SALES", {"date_range": 7}, "filters.date_range"),
        (
            "SALES",
            {"date_range": "today", "start_date": "2024-01-01", "end_date": "2024-01-02"},
            "filters.date_range",
        ),
        ("SALES", {"date_range": "today", "customer": "x"}, "filters"),
        ("AUDIT_LOGS", {}, "filters.date_range"),
        ("CUSTOMERS", {"include_credit_history": "yes"}, "filters.include_credit_history"),
        ("CUSTOMERS", {"include_credit_history": 1}, "filters.include_credit_history"),
        ("CUSTOMERS", {"date_range": "today"}, "filters"),
        ("INVENTORY", {"exclude_zero_value": "true"}, "filters.exclude_zero_value"),
        ("INVENTORY", {"exclude_zero": True}, "filters"),
        ("REFUNDS", {}, "export_type"),
        (None, {}, "export_type"),
    ],
)
def test_invalid_filters_are_field_errors(export_type, filters, field):
    with pytest.raises(FilterValidationError) as caught:
        validate_filters(export_type, filters)
    assert field in caught.value.errors
    assert all(isinstance(m, str) and m for m in caught.value.errors[field])
    assert isinstance(caught.value, ValidationError)


def test_every_problem_is_reported_at_once():
    with pytest.raises(FilterValidationError) as caught:
        validate_filters("SALES", {"start_date": "nope", "end_date": "2024-13-01", "colour": "red"})
    assert set(caught.value.errors) == {"filters", "filters.start_date", "filters.end_date"}


def test_validate_export_request():
    assert validate_export_request("Sales", "EXCEL", {"date_range": "today"}) == {
        "export_type": "SALES",
        "format": "excel",
        "filters": {"date_range": "today"},
    }
    with pytest.raises(ValidationError) as caught:
        validate_export_request("SALE", "docx", {"x": 1})
    assert set(caught.value.errors) == {"export_type", "format"}
    with pytest.raises(ValidationError) as caught:
        validate_export_request("SALES", "csv", {"date_range": "fortnight"})
    assert set(caught.value.errors) == {"filters.date_range"}
    with pytest.raises(ValidationError) as caught:
        validate_export_request("CUSTOMERS", "pdf", "[]")
    assert set(caught.value.errors) == {"filters"}


def test_filter_fields_describe_every_type():
    assert FILTER_FIELDS["SALES"] == {"start_date": date, "end_date": date, "date_range": str}
    assert FILTER_FIELDS["AUDIT_LOGS"] == FILTER_FIELDS["SALES"]
    assert FILTER_FIELDS["CUSTOMERS"] == {"include_credit_history": bool}
    assert FILTER_FIELDS["INVENTORY"] == {"exclude_zero_value": bool}


def test_describe_filters():
    resolved = resolve_filters("SALES", {"date_range": "previous_month"}, "UTC", MID_MARCH)
    assert describe_filters("SALES", resolved) == "1 Feb 2024 – 29 Feb 2024 (Previous month)"
    assert describe_filters("SALES", {"start_date": "2024-01-05", "end_date": "2024-01-05"}) == "5 Jan 2024"
    assert describe_filters("INVENTORY", {}) == "All records"
    assert describe_filters("CUSTOMERS", {"include_credit_history": True}) == "with credit history"
