"""/schedules/<id>: the schedule's sentence, next runs, its runs as a timeline with retry and run
again, its actions answering with the page; the list's rows with one primary action and a menu;
home's attention card with Retry and one-off exports gathered."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import ExportHistory
from tests.web.web_helpers import HX

PAGE_HX = {**HX, "HX-Target": "schedule-page"}


def _runs(schedule) -> int:
    return db.session.scalar(
        select(func.count()).select_from(ExportHistory).where(ExportHistory.schedule_id == schedule.id)
    )


def test_the_page_says_what_the_schedule_does_and_lists_its_runs(owner, tenant, make_schedule, make_run):
    schedule = make_schedule(tenant.business, tenant.owner, recipients=["books@example.com"])
    make_run(
        tenant.business,
        schedule_id=schedule.id,
        status="EMAILED",
        email_delivery=[
            {"email": "books@example.com", "accepted": True, "error": ""},
            {"email": "gone@example.com", "accepted": False, "error": "550 mailbox unavailable"},
        ],
    )
    make_run(
        tenant.business, schedule_id=schedule.id, status="FAILED", error_message="The database was busy."
    )
    body = owner.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "Every Monday at 08:00 UTC you&#39;ll get last week&#39;s sales as CSV. Next: Mon" in body
    assert body.count('class="timeline-item') == 2
    assert "books@example.com" in body and "550 mailbox unavailable" in body and "not delivered" in body
    assert "The database was busy." in body
    assert ">Retry<" in body and ">Run again<" in body
    assert len(re.findall(r'<li><time datetime="', body)) == 5  # the next five runs
    assert f'href="/schedules/{schedule.id}/edit"' in body  # edit is one of its actions


def test_another_business_s_schedule_page_is_a_404(owner, other_tenant, make_schedule):
    theirs = make_schedule(other_tenant.business, other_tenant.owner)
    assert owner.get(f"/schedules/{theirs.id}").status_code == 404
    assert owner.get(f"/schedules/{uuid.uuid4()}").status_code == 404
    assert owner.get("/schedules/not-a-uuid").status_code == 404


def test_retry_from_the_timeline_runs_the_same_period_and_answers_the_page(
    owner, tenant, make_schedule, make_run
):
    schedule = make_schedule(tenant.business, tenant.owner)
    failed = make_run(
        tenant.business,
        schedule_id=schedule.id,
        status="FAILED",
        error_message="x",
        filters_applied={"date_range": "previous_week", "start_date": "2026-11-23", "end_date": "2026-11-29"},
    )
    response = owner.post(f"/schedules/runs/{failed.id}/rerun", headers=PAGE_HX)
    assert response.status_code == 200
    assert 'id="schedule-page"' in response.get_data(as_text=True)
    assert "Retrying for the same period" in response.headers["HX-Trigger"]
    assert _runs(schedule) == 2
    newest = db.session.scalars(
        select(ExportHistory)
        .where(ExportHistory.schedule_id == schedule.id)
        .order_by(ExportHistory.created_at.desc())
    ).first()
    assert newest.id != failed.id
    assert (newest.filters_applied["start_date"], newest.filters_applied["end_date"]) == (
        "2026-11-23",
        "2026-11-29",
    )


def test_retry_from_home_goes_back_home(owner, tenant, make_schedule, make_run):
    schedule = make_schedule(tenant.business, tenant.owner)
    failed = make_run(tenant.business, schedule_id=schedule.id, status="FAILED", error_message="x")
    response = owner.post(f"/schedules/runs/{failed.id}/rerun?from=home")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert _runs(schedule) == 2


def test_actions_on_the_page_answer_with_the_page(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner)
    response = owner.post(f"/schedules/{schedule.id}/deactivate", headers=PAGE_HX)
    body = response.get_data(as_text=True)
    assert 'id="schedule-page"' in body and ">Activate<" in body and "Inactive: it does not run" in body
    response = owner.post(f"/schedules/{schedule.id}/run", headers=PAGE_HX)
    assert 'class="timeline-item' in response.get_data(as_text=True)
    response = owner.post(f"/schedules/{schedule.id}/delete", headers=PAGE_HX)
    assert response.headers["HX-Redirect"] == "/schedules/"


def test_a_list_row_has_one_primary_action_and_the_rest_in_a_menu(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner)
    body = owner.get("/schedules/").get_data(as_text=True)
    row = body[body.index(f'id="schedule-{schedule.id}"') :]
    row = row[: row.index("</tr>")]
    outside_menu = row[: row.index('<details class="row-menu">')]
    menu = row[row.index('<details class="row-menu">') :]
    assert outside_menu.count('type="submit"') == 1 and "Run now" in outside_menu
    assert f'href="/schedules/{schedule.id}"' in outside_menu  # the name opens its page
    for action in ("Send a test to me", "Edit", "Deactivate", "Delete"):
        assert action in menu
    assert menu.index("Delete") > menu.index("Deactivate") > menu.index("Edit")
    assert 'hx-confirm="Delete the schedule' in menu


def test_home_gathers_one_off_exports_and_offers_retry(owner, tenant, make_schedule, make_run):
    schedule = make_schedule(tenant.business, tenant.owner, name="Morning sales")
    for _ in range(4):
        make_run(tenant.business)
    make_run(
        tenant.business,
        schedule_id=schedule.id,
        schedule_name="Morning sales",
        status="FAILED",
        error_message="x",
    )
    body = owner.get("/").get_data(as_text=True)
    assert "4 one-off exports" in body
    assert body.count("One-off export") == 0
    assert ">Retry<" in body and "from=home" in body
