"""A failed run in plain words for the pages, by its stored failure category: what went wrong and
what to try. The history (list and detail), the home page's attention card and a schedule's
timeline all show a failure through this, so they say the same thing."""

from __future__ import annotations

from typing import Any

from dashboard.core.failure_words import failure_words


def failure_view(category: str | None, message: str | None) -> dict[str, Any]:
    """{"what": one sentence, "advice": [what to try, in order], "detail": the recorded message
    when it says more than the sentence (else "")}."""
    detail = (message or "").strip()
    if category is None and detail:
        # A run from before categories were stored: its own message is all there is to say.
        return {"what": detail, "advice": [], "detail": ""}
    words = failure_words(category)  # the same words and advice as the failure mail
    return {
        "what": words.what,
        "advice": list(words.advice),
        "detail": "" if detail == words.what else detail,
    }
