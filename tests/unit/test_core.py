"""dashboard/core: the one way times, dates and sizes read, the words for stored names, and page
arithmetic. Pure functions: no app, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dashboard.core import labels
from dashboard.core.display import (
    date_display,
    datetime_display,
    mb_display,
    period_display,
    size_display,
)
from dashboard.core.pagination import Page, clamp_page_size, is_past_the_end, offset_of, page_count


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        (datetime(2026, 12, 5, 7, 0, tzinfo=UTC), "Europe/London", "5 Dec 2026, 07:00 GMT"),
        (datetime(2026, 7, 1, 7, 0, tzinfo=UTC), "Europe/London", "1 Jul 2026, 08:00 BST"),
        (datetime(2026, 12, 5, 7, 0), "America/New_York", "5 Dec 2026, 02:00 EST"),  # naive is UTC
        (datetime(2026, 12, 5, 7, 0, tzinfo=UTC), "UTC", "5 Dec 2026, 07:00 UTC"),
        (datetime(2026, 12, 5, 7, 0, tzinfo=UTC), "Not/AZone", "5 Dec 2026, 07:00 UTC"),
        (None, "UTC", ""),
    ],
)
def test_datetime_display(value, tz, expected):
    assert datetime_display(value, tz) == expected


def test_datetime_display_keeps_the_values_own_zone_without_one():
    plus_two = timezone(timedelta(hours=2), "CEST")
    assert datetime_display(datetime(2024, 4, 2, 13, 5, tzinfo=plus_two)) == "2 Apr 2024, 13:05 CEST"
    assert datetime_display(datetime(2026, 12, 5, 7, 0, tzinfo=UTC), "UTC", weekday=True) == (
        "Sat 5 Dec 2026, 07:00 UTC"
    )


def test_date_display():
    assert date_display(date(2026, 12, 5)) == "5 Dec 2026"
    assert date_display("2026-12-05") == "5 Dec 2026"
    assert date_display("not a date") == "not a date"
    assert date_display(date(2026, 12, 5), year=False) == "5 Dec"
    assert date_display(date(2026, 12, 5), weekday=True) == "Sat 5 Dec 2026"
    # A datetime is a day in the given zone: 23:30 UTC is already the next day in Warsaw.
    assert date_display(datetime(2026, 12, 5, 23, 30, tzinfo=UTC), "Europe/Warsaw") == "6 Dec 2026"
    assert date_display(None) == ""


def test_period_display():
    assert period_display("2026-12-01", "2026-12-04") == "1 Dec 2026 – 4 Dec 2026"
    assert period_display(date(2026, 12, 4), date(2026, 12, 4)) == "4 Dec 2026"
    assert period_display(None, "2026-12-04") == ""


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, "0 bytes"), (1, "1 byte"), (900, "900 bytes"), (16 * 1024, "16 KB"), (1024 * 1536, "1.5 MB")],
)
def test_size_display(size, expected):
    assert size_display(size) == expected


def test_megabytes_follow_the_same_rule_as_bytes():
    # The statistics give sizes in MB; a page must not say "0.08 MB" beside "16 KB".
    assert mb_display(0.08) == "81.9 KB"
    assert mb_display(2.5) == "2.5 MB"
    assert mb_display(None) == "0 bytes"


def test_every_format_has_its_words_extension_and_content_type():
    from dashboard.exports.registry import DATASETS, WRITERS, get_writer
    from dashboard.models import automation

    assert automation.FORMATS == labels.FORMATS and automation.EXPORT_TYPES == labels.EXPORT_TYPES
    assert set(WRITERS) == set(labels.FORMATS) and set(DATASETS) == set(labels.EXPORT_TYPES)
    for fmt in WRITERS:
        writer = get_writer(fmt)
        assert writer.extension == labels.file_extension(fmt)
        assert writer.content_type.startswith(labels.content_type(fmt))
    assert labels.content_type("nope") == "application/octet-stream" and labels.file_extension("nope") == ""


def test_page_arithmetic():
    assert clamp_page_size(None) == 20 and clamp_page_size(0) == 20 and clamp_page_size(10**9) == 100
    assert offset_of(1, 20) == 0 and offset_of(3, 20) == 40 and offset_of(0, 20) == 0
    assert page_count(0, 20) == 0 and page_count(41, 20) == 3
    assert not is_past_the_end(1, 20, 0) and is_past_the_end(2, 20, 20) and not is_past_the_end(2, 20, 21)
    page = Page(items=[1, 2], page=2, per_page=20, total=41)
    assert (page.pages, page.has_prev, page.prev_num, page.has_next, page.next_num) == (3, True, 1, True, 3)
    last = Page(items=[1], page=3, per_page=20, total=41)
    assert not last.has_next and last.next_num is None
    assert Page(items=[], page=1, per_page=20, total=0).pages == 0
