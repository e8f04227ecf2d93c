"""Through the real runner: a scheduled run of a real export ends EMAILED with the real file
attached, and a failing run sends its alert; `flask exports send-summaries` runs one pass."""

from __future__ import annotations

import io

import openpyxl

from dashboard import demo
from dashboard.automation.runner import ScheduledExportRunner
from dashboard.extensions import db
from dashboard.models import Membership, User
from dashboard.models.automation import STATUS_EMAILED, STATUS_FAILED, ExportSchedule
from dashboard.storage import get_storage
from tests.delivery.delivery_helpers import attachments, link_in, path_of, text_part


def seeded_business():
    demo.seed_business("Corner Café", sales=40, timezone="Europe/London", slug="corner-cafe")
    from sqlalchemy import select

    from dashboard.models import Business

    business = db.session.scalar(select(Business).where(Business.name == "Corner Café"))
    owner = User(email="owner@corner-cafe.example.com", name="Olive Owner")
    db.session.add_all([owner, Membership(user=owner, business=business, role="owner")])
    db.session.commit()
    return business, owner


def test_scheduled_run_through_the_runner_mails_the_real_file(smtp, app, client):
    business, owner = seeded_business()
    schedule = ExportSchedule(
        business_id=business.id,
        created_by_id=owner.id,
        name="Inventory snapshot",
        export_type="INVENTORY",
        format="excel",
        frequency="DAILY",
        hour=7,
        timezone="Europe/London",
        recipients=["stock@example.com"],
        include_creator_email=True,
        email_subject="Inventory snapshot",
        email_message="Here is this morning's stock.",
        filters={},
    )
    db.session.add(schedule)
    db.session.commit()

    history = ScheduledExportRunner().execute_schedule(schedule, "SCHEDULED")

    db.session.refresh(history)
    assert history.status == STATUS_EMAILED, (history.status, history.error_message)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == [
        "owner@corner-cafe.example.com",
        "stock@example.com",
    ]
    message = smtp.received[0].message
    assert message["Subject"] == "Inventory snapshot"
    assert message["From"] == "Corner Café <exports@example.com>"
    assert "Here is this morning's stock." in text_part(message)
    (attached,) = attachments(message)
    data = attached.get_content()
    with get_storage().get_export_file(history.file_path) as stored:
        assert data == stored.read()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.max_row >= history.record_count + 1  # header + one row per product (+ totals)
    assert f"{history.record_count:,}" in text_part(message)

    response = client.get(path_of(link_in(message)) + "/file")
    assert response.status_code == 200 and response.data == data
    assert all(d["accepted"] for d in history.email_delivery)


def test_failing_run_through_the_runner_alerts_the_creator(smtp, app):
    business, owner = seeded_business()
    schedule = ExportSchedule(
        business_id=business.id,
        created_by_id=owner.id,
        name="Broken sales",
        export_type="SALES",
        format="csv",
        frequency="DAILY",
        hour=7,
        timezone="Europe/London",
        recipients=["accounting@example.com"],
        filters={"start_date": "2024-03-10", "end_date": "2024-03-01"},  # end before start
    )
    db.session.add(schedule)
    db.session.commit()

    history = ScheduledExportRunner().execute_schedule(schedule, "SCHEDULED")

    db.session.refresh(history)
    assert history.status == STATUS_FAILED
    assert [r.rcpt_tos for r in smtp.received] == [["owner@corner-cafe.example.com"]]
    message = smtp.received[0].message
    assert message["Subject"] == "Export failed: Broken sales (CSV) — Corner Café"
    assert attachments(message) == []


def test_send_summaries_command_runs_one_pass(smtp, app, runner):
    business, owner = seeded_business()
    db.session.add(
        ExportSchedule(
            business_id=business.id,
            created_by_id=owner.id,
            name="Weekly",
            export_type="CUSTOMERS",
            format="csv",
            frequency="DAILY",
            hour=7,
            filters={},
        )
    )
    db.session.commit()
    result = runner.invoke(args=["exports", "send-summaries"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("send-summaries: 1 businesses checked")
    before = len(smtp.received)  # 0, unless this runs on a Sunday at 08:00 in the business's timezone
    forced = runner.invoke(args=["exports", "send-summaries", "--force"])
    assert forced.exit_code == 0, forced.output
    if before == 0:
        assert [r.rcpt_tos for r in smtp.received] == [[owner.email]]
