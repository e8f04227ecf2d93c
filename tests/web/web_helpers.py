"""Helpers for the page tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

PASSWORD = "correct-horse-battery"  # tests/conftest.py
HX = {"HX-Request": "true"}


def schedule_data(**overrides) -> dict:
    data = {
        "name": "Weekly sales",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "WEEKLY",
        "day_of_week": 0,
        "hour": 8,
        "recipients": ["accounts@example.com"],
        "filters": {"date_range": "previous_week"},
    }
    data.update(overrides)
    return data


def form_data(**overrides) -> dict:
    """What the schedule form posts for a valid weekly schedule."""
    data = {
        "name": "Weekly sales",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "WEEKLY",
        "day_of_week": "0",
        "hour": "08",
        "minute": "00",
        "timezone": "UTC",
        "recipients": ["accounts@example.com"],
        "filters.date_range": "previous_week",
        "is_active": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
