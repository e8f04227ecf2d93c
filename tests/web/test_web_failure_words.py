"""Failure words by the stored category (issue 20 item 5, page side): the history list and detail,
the home page's attention card and a schedule's timeline say what went wrong in the category's
plain sentence, the same words everywhere, with the recorded message kept as the detail."""

from __future__ import annotations

import pytest

from dashboard.core.failure_words import failure_words
from dashboard.models.automation import FAILURE_CATEGORIES

TECHNICAL = "[Errno 20] Not a directory: '/srv/exports/acme/2026/12'"


@pytest.mark.parametrize("category", FAILURE_CATEGORIES)
def test_every_page_words_a_failure_by_its_category(owner, tenant, make_schedule, make_run, category):
    schedule = make_schedule(tenant.business, tenant.owner, name="Night stock")
    run = make_run(
        tenant.business,
        schedule_id=schedule.id,
        schedule_name="Night stock",
        status="FAILED",
        failure_category=category,
        error_message=TECHNICAL,
        file_name="",
        record_count=0,
    )
    words = failure_words(category).what
    advice = failure_words(category).advice
    pages = {
        "history list": owner.get("/history/").get_data(as_text=True),
        "history detail": owner.get(f"/history/{run.id}").get_data(as_text=True),
        "home": owner.get("/").get_data(as_text=True),
        "schedule page": owner.get(f"/schedules/{schedule.id}").get_data(as_text=True),
    }
    escaped = words.replace("'", "&#39;")
    for name, body in pages.items():
        assert escaped in body, (name, category)
    # The recorded message stays available where there is room for it, never instead of the words.
    assert "What the system recorded: [Errno 20] Not a directory" in pages["history detail"]
    assert "What the system recorded" in pages["schedule page"]
    assert TECHNICAL.replace("'", "&#39;") not in pages["history list"]
    assert ">Retry<" in pages["home"] and ">Retry<" in pages["schedule page"]
    # What to try: every step on the run's page and the timeline, the first one on the home card.
    for step in advice:
        step = step.replace("'", "&#39;")
        assert step in pages["history detail"] and step in pages["schedule page"], (category, step)
    assert advice[0].replace("'", "&#39;") in pages["home"]


def test_a_run_from_before_categories_keeps_its_own_message(owner, tenant, make_run):
    run = make_run(tenant.business, status="FAILED", error_message="The database did not answer in time.")
    body = owner.get(f"/history/{run.id}").get_data(as_text=True)
    assert "The database did not answer in time." in body
    assert "What the system recorded" not in body
