"""The pure parts of the pages: chart geometry and form parsing (no database)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from dashboard.web import charts, forms

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(
    "value,expected", [(0, 1), (0.3, 0.5), (1, 1), (3, 5), (7, 10), (12, 20), (45, 50), (51, 100), (250, 500)]
)
def test_nice_ceiling(value, expected):
    assert charts.nice_ceiling(value) == expected


def _daily(totals):
    start = date(2026, 3, 1)
    return [
        {
            "date": (start + timedelta(days=i)).isoformat(),
            "total": t,
            "successful": max(t - 1, 0),
            "failed": min(t, 1),
        }
        for i, t in enumerate(totals)
    ]


def test_daily_chart_stacks_outcomes_on_whole_number_ticks():
    chart = charts.daily_chart(_daily([0] * 28 + [3, 7]), width=960, height=260)
    assert len(chart.bars) == 30 and chart.total_runs == 10
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    last = chart.bars[-1]
    assert [r.css for r in last.rects] == ["bar-ok", "bar-failed"]
    # Heights are proportional: 6 successful + 1 failed out of an axis of 8.
    plot = chart.plot_bottom - chart.plot_top
    assert last.rects[0].height == pytest.approx(plot * 6 / 8, abs=0.01)
    assert last.rects[1].y + last.rects[1].height == pytest.approx(last.rects[0].y, abs=0.01)
    assert last.title == "30 Mar: 7 runs, 6 successful, 1 failed"
    assert chart.bars[0].rects == [] and chart.bars[0].title == "1 Mar: 0 runs"
    # The newest day is always labelled, ending at the chart's edge.
    assert chart.x_ticks[-1].label == "30 Mar" and chart.x_ticks[-1].anchor == "end"
    assert all(r.x + r.width <= chart.plot_right for bar in chart.bars for r in bar.rects)


def test_daily_chart_empty_and_running():
    empty = charts.daily_chart(_daily([0] * 30))
    assert empty.empty and [t.label for t in empty.y_ticks] == ["0", "1"]
    running = charts.daily_chart([{"date": "2026-03-01", "total": 2, "successful": 0, "failed": 0}])
    assert [r.css for r in running.bars[0].rects] == ["bar-running"]


def test_rate_chart_splits_finished_runs():
    chart = charts.rate_chart(
        {
            "SALES": {"total": 10, "successful": 6, "failed": 2},
            "PDF_ONLY_RUNNING": {"total": 3, "successful": 0, "failed": 0},
            "CUSTOMERS": {"total": 0, "successful": 0, "failed": 0},
        },
        {"SALES": "Sales", "CUSTOMERS": "Customers"},
        ("SALES", "CUSTOMERS"),
    )
    sales, customers, running = chart.rows
    assert (sales.label, sales.rate, sales.text) == ("Sales", 75.0, "75% (6 of 8)")
    assert sales.bar_width + sales.failed_width == pytest.approx(chart.bar_area)
    assert customers.rate is None and customers.text == "no finished runs" and customers.bar_width == 0
    assert running.text == "3 runs not finished"
    assert not chart.empty


def test_size_chart():
    chart = charts.size_chart({"excel": 2.5, "csv": 0.2, "pdf": None}, {"excel": "Excel"})
    excel, csv, pdf = chart.rows
    # One size rule everywhere (dashboard/core/display.py): 1,024-byte units, one decimal.
    assert excel.text == "2.5 MB" and csv.text == "204.8 KB" and pdf.text == "no files"
    assert excel.bar_width > csv.bar_width > pdf.bar_width == 0


def test_form_keeps_what_was_typed_and_fills_unrendered_day_fields():
    form = MultiDict(
        [
            ("name", "  Weekly  "),
            ("export_type", "sales"),
            ("frequency", "WEEKLY"),
            ("hour", "7"),
            ("minute", "5"),
            ("recipients", "a@example.com, b@example.com"),
            ("recipients", "c@example.com"),
            ("recipients", ""),
            ("filters.date_range", "custom"),
            ("filters.start_date", "2024-01-01"),
            ("filters.end_date", "2024-01-31"),
        ]
    )
    values = forms.schedule_form_from_request(form, "Europe/London")
    assert values["name"] == "Weekly" and values["export_type"] == "SALES"
    assert values["recipients"] == ["a@example.com", "b@example.com", "c@example.com"]
    assert values["day_of_week"] == "0"  # not rendered yet: the form's initial Monday
    assert values["date_mode"] == "custom"
    payload = forms.schedule_payload(values)
    assert payload["filters"] == {"start_date": "2024-01-01", "end_date": "2024-01-31"}
    assert (payload["hour"], payload["minute"], payload["day_of_week"]) == (7, 5, 0)
    assert payload["day_of_month"] is None and payload["week_of_month"] is None
    assert payload["timezone"] == "" and payload["is_active"] is False


def test_only_the_day_fields_the_form_shows_are_sent():
    base = [("frequency", "MONTHLY"), ("day_of_week", "3"), ("day_of_month", "15"), ("week_of_month", "2")]
    by_day = forms.schedule_payload(
        forms.schedule_form_from_request(MultiDict(base + [("monthly_mode", "day")]), "UTC")
    )
    assert (by_day["day_of_month"], by_day["week_of_month"], by_day["day_of_week"]) == (15, None, None)
    by_weekday = forms.schedule_payload(
        forms.schedule_form_from_request(MultiDict(base + [("monthly_mode", "weekday")]), "UTC")
    )
    assert (by_weekday["day_of_month"], by_weekday["week_of_month"], by_weekday["day_of_week"]) == (
        None,
        2,
        3,
    )
    daily = forms.schedule_payload(
        forms.schedule_form_from_request(MultiDict([("frequency", "DAILY")] + base[1:]), "UTC")
    )
    assert (daily["day_of_month"], daily["week_of_month"], daily["day_of_week"]) == (None, None, None)


def test_a_saved_schedule_as_the_form_shows_it():
    values = forms.schedule_form_values(
        {
            "name": "Month end",
            "export_type": "SALES",
            "format": "pdf",
            "frequency": "MONTHLY",
            "hour": 6,
            "minute": 5,
            "day_of_week": 4,
            "day_of_month": None,
            "week_of_month": -1,
            "timezone": "Asia/Kolkata",
            "recipients": ["x@example.com"],
            "filters": {"date_range": "previous_month"},
            "is_active": True,
        }
    )
    assert (
        values["monthly_mode"] == "weekday"
        and values["week_of_month"] == "-1"
        and values["day_of_week"] == "4"
    )
    assert (values["hour"], values["minute"]) == ("06", "05")
    assert values["date_mode"] == "previous_month"


def test_errors_for_a_day_field_the_form_hides_go_to_the_top():
    values = {"frequency": "DAILY"}
    errors = forms.errors_by_field(
        {"day_of_week": ["Daily schedules run every day: remove day_of_week."]}, values
    )
    assert errors == {"non_field_errors": ["Daily schedules run every day: remove day_of_week."]}
