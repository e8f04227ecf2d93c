"""The words for a failed run, by its stored `failure_category` (export_history): what went wrong,
in a sentence a business manager reads, and what to do about it. Declared once: the failure mail,
the run pages and the API's plain message all read them from here (issue 20 item 5).

Keys are the stored category names (dashboard/models/automation.py FAILURE_CATEGORIES; a test
keeps the two equal). An unknown or missing category reads as "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FailureWords:
    what: str  # what went wrong, one sentence
    advice: tuple[str, ...]  # what to try, in order


_CONTACT = "If it keeps failing, contact support and include the time of this failure."

FAILURE_WORDS: dict[str, FailureWords] = {
    "settings": FailureWords(
        "The export's settings are not valid any more (for example its filters or date range).",
        (
            "Open the schedule and check its filters and dates: an end date before the start date, or a "
            "filter on something that no longer exists, stops the export.",
            "Save the corrected schedule, then use Run now to check that it works.",
        ),
    ),
    "data": FailureWords(
        "The export file could not be made from the data.",
        (
            "Try the CSV format: it takes every value as it is.",
            "Try a shorter period to find the records that cause it.",
            _CONTACT,
        ),
    ),
    "database": FailureWords(
        "The database could not be reached while the export ran.",
        (
            "Nothing needs changing in the schedule: this is usually over within minutes.",
            "Use Run now later, or wait for the automatic retry or the next scheduled run.",
            _CONTACT,
        ),
    ),
    "timeout": FailureWords(
        "The export took too long and was stopped.",
        (
            "Choose a shorter period, or filters that select fewer records.",
            "Schedule it at a quieter hour, for example early in the morning.",
            _CONTACT,
        ),
    ),
    "storage": FailureWords(
        "The export file could not be saved: the file storage is full or unavailable.",
        (
            "Nothing needs changing in the schedule: the place where export files are kept was full or "
            "could not be reached.",
            "Ask whoever runs the dashboard to free space or bring the file storage back, then use Run now.",
        ),
    ),
    "memory": FailureWords(
        "The export ran out of memory: try a shorter period or the CSV format.",
        (
            "Choose a shorter period, or split the export into several schedules.",
            "Use the CSV format, which needs the least memory; a PDF of many records needs the most.",
        ),
    ),
    "interrupted": FailureWords(
        "The export was interrupted before it finished: the server restarted or the worker stopped "
        "responding.",
        (
            "Nothing needs changing in the schedule: the server restarted while the export ran.",
            "Wait for the automatic retry or the next scheduled run, or use Run now.",
        ),
    ),
    "unknown": FailureWords(
        "The export could not be completed because of an unexpected error.",
        (
            "Check the schedule's configuration: export type, format and filters (for example the date "
            "range).",
            "Verify that data is available for the chosen period.",
            "Review permissions: the person who created the schedule must still be a member of the business.",
            "Try a manual trigger from the dashboard to see whether the problem persists.",
            "Contact support if it keeps failing, and include the time of this failure.",
        ),
    ),
}


def failure_words(category: str | None) -> FailureWords:
    """The words for a stored failure category; an unknown or missing one reads as "unknown"."""
    return FAILURE_WORDS.get(category or "unknown", FAILURE_WORDS["unknown"])
