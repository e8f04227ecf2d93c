"""`dashboard.services.runs`: how the pages, the API and the CLI start runs (the test send here;
run now, rerun and one-off in test_runner.py; the CLI in tests/exports/test_cli.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.core.errors import ValidationError
from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory
from dashboard.services import runs
from tests.automation.runner_helpers import make_schedule, utc


def test_a_test_send_goes_to_its_starter_only_and_is_not_the_last_run(shop):
    next_run = utc(2030, 1, 1, 8, 0)
    schedule = make_schedule(shop.business, shop.owner, recipients=["team@example.com"], next_run_at=next_run)
    history = runs.send_test(schedule, shop.manager)
    assert history.status in ("COMPLETED", "EMAILED"), history.error_message
    assert history.is_test is True and history.trigger == "MANUAL"
    assert history.override_recipients == [shop.manager.email] and history.send_email is True
    db.session.refresh(schedule)
    assert schedule.last_run_at is None and schedule.next_run_at == next_run
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.test"))
    assert entry.user_id == shop.manager.id and str(history.id) in entry.details

    again = runs.rerun(history, shop.owner)  # a rerun of a test is a test again
    assert again.is_test is True
    db.session.refresh(schedule)
    assert schedule.last_run_at is None


def test_run_now_is_the_last_run_and_not_a_test(shop):
    schedule = make_schedule(shop.business, shop.owner, next_run_at=None)
    history = runs.trigger_schedule(schedule, shop.owner)
    assert history.is_test is False and history.trigger == "MANUAL"
    db.session.refresh(schedule)
    assert schedule.last_run_at is not None


def test_request_bodies_are_validated_before_anything_is_created(shop):
    schedule = make_schedule(shop.business, shop.owner, next_run_at=None)
    for call in (
        lambda: runs.trigger_schedule_request(schedule, shop.owner, {"override_recipients": ["nope"]}, "API"),
        lambda: runs.trigger_schedule_request(schedule, shop.owner, {"send_mail": True}, "API"),
        lambda: runs.start_one_off_request(shop.business, shop.owner, {"export_type": "SALES"}, "API"),
        lambda: runs.run_export_now(shop.business, "INVENTORY", "docx", {}),
    ):
        with pytest.raises(ValidationError):
            call()
    assert db.session.scalars(select(ExportHistory)).all() == []
    assert db.session.scalars(select(AuditLog).where(AuditLog.action.like("export.%"))).all() == []
