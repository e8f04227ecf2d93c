"""CONTRACT section 4, "Who gets what": one test per case, against a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dashboard.delivery import deliver_run_result, process_outbox, send_export_summary_report
from dashboard.extensions import db
from dashboard.models import ExportNotificationSettings, MailMessage, Membership
from dashboard.models.automation import STATUS_COMPLETED, STATUS_EMAILED, ExportHistory
from dashboard.models.types import utcnow
from tests.delivery.delivery_helpers import attachments, html_part, link_in, path_of, text_part


def settings(business, **values) -> ExportNotificationSettings:
    row = ExportNotificationSettings(business_id=business.id, from_name=business.name, **values)
    db.session.add(row)
    db.session.commit()
    return row


def mailed(smtp) -> list[tuple[str, str]]:
    """(recipient, subject) of every message the server accepted."""
    return [(r.rcpt_tos[0], r.message["Subject"]) for r in smtp.received]


def recipients(smtp) -> list[str]:
    return sorted(r.rcpt_tos[0] for r in smtp.received)


# --- the export mail ---------------------------------------------------------------------------


def test_export_mail_goes_to_the_schedules_recipients_list_with_its_creator(smtp, tenant, runs):
    schedule = runs.schedule(
        tenant.business, tenant.manager, recipients=["a@example.com"], include_creator_email=True
    )
    deliver_run_result(runs.completed(tenant.business, schedule).id)
    assert recipients(smtp) == sorted(["a@example.com", tenant.manager.email])


def test_creator_who_left_the_business_is_not_mailed(smtp, tenant, runs):
    schedule = runs.schedule(
        tenant.business, tenant.manager, recipients=["a@example.com"], include_creator_email=True
    )
    membership = db.session.scalar(select(Membership).where(Membership.user_id == tenant.manager.id))
    membership.is_active = False
    db.session.commit()
    deliver_run_result(runs.completed(tenant.business, schedule).id)
    assert recipients(smtp) == ["a@example.com"]


def test_trigger_override_replaces_the_schedules_recipients(smtp, tenant, runs):
    schedule = runs.schedule(
        tenant.business, tenant.owner, recipients=["a@example.com"], include_creator_email=True
    )
    history = runs.completed(
        tenant.business, schedule, trigger="API", override_recipients=["other@example.com"]
    )
    deliver_run_result(history.id)
    assert recipients(smtp) == ["other@example.com"]


def test_one_off_export_goes_to_its_own_recipients(smtp, tenant, runs):
    history = runs.completed(
        tenant.business,
        None,
        user_id=tenant.manager.id,
        override_recipients=["one@example.com", "two@example.com"],
    )
    deliver_run_result(history.id)
    assert recipients(smtp) == ["one@example.com", "two@example.com"]
    subject = smtp.received[0].message["Subject"]
    assert subject.startswith("Sales export (Excel) — Test Shop — ")


def test_send_email_false_sends_nothing_and_stays_completed(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    history = runs.completed(tenant.business, schedule, trigger="MANUAL", send_email=False)
    deliver_run_result(history.id)
    assert smtp.received == []
    db.session.refresh(history)
    assert history.status == STATUS_COMPLETED and history.email_sent is False


def test_run_without_recipients_stays_completed(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=[], include_creator_email=False)
    history = runs.completed(tenant.business, schedule)
    one_off = runs.completed(tenant.business, None, override_recipients=[])
    deliver_run_result(history.id)
    deliver_run_result(one_off.id)
    assert smtp.received == []
    for h in (history, one_off):
        db.session.refresh(h)
        assert h.status == STATUS_COMPLETED and h.email_delivery == []


def test_skip_if_empty_with_no_records_sends_no_export_mail(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"], skip_if_empty=True)
    empty = runs.completed(tenant.business, schedule, record_count=0)
    deliver_run_result(empty.id)
    assert smtp.received == []
    db.session.refresh(empty)
    assert empty.status == STATUS_COMPLETED
    # Without skip_if_empty an empty export is still mailed (the recipients expect it).
    schedule.skip_if_empty = False
    db.session.commit()
    deliver_run_result(runs.completed(tenant.business, schedule, record_count=0).id)
    assert recipients(smtp) == ["a@example.com"]


# --- failure alerts ----------------------------------------------------------------------------


def test_failure_alert_goes_to_default_recipients(smtp, tenant, runs):
    settings(tenant.business, default_recipients=["alerts@example.com", "it@example.com"])
    schedule = runs.schedule(tenant.business, tenant.manager, recipients=["a@example.com"])
    history = runs.failed(tenant.business, schedule, failure_category="database")
    deliver_run_result(history.id)
    assert recipients(smtp) == ["alerts@example.com", "it@example.com"]
    message = smtp.received[0].message
    assert message["Subject"] == "Export failed: Daily sales (Excel) — Test Shop"
    text = text_part(message)
    assert "The database could not be reached" in text
    assert "OperationalError: database is locked" in text
    # The advice for a database failure (its stored category), not the generic list.
    assert "Nothing needs changing in the schedule" in text and "contact support" in text
    assert "Try a manual trigger" not in text
    assert "Next scheduled run:" in text
    assert attachments(message) == []
    db.session.refresh(history)
    assert history.status == "FAILED" and history.email_delivery == []  # alerts are not the export mail


def test_failure_alert_goes_to_the_schedules_creator_without_default_recipients(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.manager, recipients=["a@example.com"])
    deliver_run_result(runs.failed(tenant.business, schedule).id)
    assert recipients(smtp) == [tenant.manager.email]


def test_failure_of_a_one_off_export_goes_to_the_person_who_started_it(smtp, tenant, runs):
    history = runs.failed(tenant.business, None, user_id=tenant.manager.id, trigger="MANUAL")
    deliver_run_result(history.id)
    assert recipients(smtp) == [tenant.manager.email]
    text = text_part(smtp.received[0].message)
    assert "one-off export" in text


def test_failure_of_a_manual_trigger_also_tells_who_triggered_it(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    history = runs.failed(tenant.business, schedule, user_id=tenant.manager.id, trigger="MANUAL")
    deliver_run_result(history.id)
    assert recipients(smtp) == sorted([tenant.owner.email, tenant.manager.email])


def test_no_failure_alert_when_notify_on_failure_is_off(smtp, tenant, runs):
    settings(tenant.business, notify_on_failure=False, default_recipients=["alerts@example.com"])
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    deliver_run_result(runs.failed(tenant.business, schedule).id)
    assert smtp.received == []


def test_failure_alert_says_when_the_run_is_retried(smtp, tenant, runs):
    tenant.business.timezone = "America/New_York"
    db.session.commit()
    schedule = runs.schedule(
        tenant.business, tenant.owner, next_run_at=datetime(2030, 1, 2, 13, 0, tzinfo=UTC)
    )
    history = runs.failed(
        tenant.business,
        schedule,
        error_message="Run interrupted: the worker stopped responding",
        failure_category="interrupted",
        next_retry_at=datetime(2030, 1, 1, 15, 5, tzinfo=UTC),
    )
    deliver_run_result(history.id)
    text = " ".join(text_part(smtp.received[0].message).split())
    assert "interrupted before it finished" in text
    assert "Next scheduled run: 2 Jan 2030, 08:00 EST." in text
    assert "retried automatically at 1 Jan 2030, 10:05 EST" in text


# --- success notices ---------------------------------------------------------------------------


def test_success_notice_goes_to_default_recipients_without_attachment_with_link(smtp, tenant, runs, client):
    settings(
        tenant.business, notify_on_success=True, default_recipients=["boss@example.com", "a@example.com"]
    )
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    history = runs.completed(tenant.business, schedule)
    deliver_run_result(history.id)
    # a@ gets the export mail (with the file) and no notice on top; boss@ gets the notice.
    assert sorted(mailed(smtp)) == sorted(
        [
            (
                "a@example.com",
                "Daily sales — Sales export (Excel) — Test Shop — 14 Mar 2024",  # the data's period
            ),
            ("boss@example.com", "Export completed: Daily sales (Excel) — Test Shop"),
        ]
    )
    notice = next(r.message for r in smtp.received if r.rcpt_tos == ["boss@example.com"])
    assert attachments(notice) == []
    assert "went to a@example.com" in text_part(notice)
    response = client.get(path_of(link_in(notice)) + "/file")
    assert response.status_code == 200
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED
    assert [d["email"] for d in history.email_delivery] == ["a@example.com"]  # the export mail only


def test_no_success_notice_by_default(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"])
    settings(tenant.business, default_recipients=["boss@example.com"])
    deliver_run_result(runs.completed(tenant.business, schedule).id)
    assert recipients(smtp) == ["a@example.com"]


def test_success_notice_for_a_run_skipped_as_empty(smtp, tenant, runs):
    settings(tenant.business, notify_on_success=True, default_recipients=["boss@example.com"])
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com"], skip_if_empty=True)
    history = runs.completed(tenant.business, schedule, record_count=0)
    deliver_run_result(history.id)
    assert recipients(smtp) == ["boss@example.com"]
    assert "found no records" in text_part(smtp.received[0].message)
    db.session.refresh(history)
    assert history.status == STATUS_COMPLETED


# --- weekly summary ------------------------------------------------------------------------------

SUNDAY_0815_UTC = datetime(2024, 3, 17, 8, 15, tzinfo=UTC)  # a Sunday


def add_week_of_runs(business, runs, schedule):
    base = SUNDAY_0815_UTC - timedelta(days=2)
    for i, status in enumerate(["EMAILED", "EMAILED", "COMPLETED", "FAILED"]):
        db.session.add(
            ExportHistory(
                business_id=business.id,
                schedule_id=schedule.id,
                schedule_name=schedule.name,
                export_type="SALES" if i < 3 else "INVENTORY",
                format="excel",
                status=status,
                record_count=100,
                file_size=2048,
                error_message="Run interrupted" if status == "FAILED" else "",
                failure_category="interrupted" if status == "FAILED" else None,
                created_at=base + timedelta(hours=i),
                completed_at=base + timedelta(hours=i, minutes=1),
            )
        )
    # Outside the 7 days: not counted.
    db.session.add(
        ExportHistory(
            business_id=business.id,
            export_type="SALES",
            format="csv",
            status="FAILED",
            created_at=SUNDAY_0815_UTC - timedelta(days=8),
        )
    )
    db.session.commit()


def test_weekly_summary_goes_to_default_recipients(smtp, tenant, runs):
    settings(tenant.business, default_recipients=["weekly@example.com"])
    schedule = runs.schedule(tenant.business, tenant.owner)
    add_week_of_runs(tenant.business, runs, schedule)
    result = send_export_summary_report(SUNDAY_0815_UTC)
    assert result["summaries"] == 1 and result["sent"] == 1
    assert recipients(smtp) == ["weekly@example.com"]
    message = smtp.received[0].message
    assert message["Subject"] == "Weekly export summary — Test Shop — 10 Mar 2024 – 17 Mar 2024"
    text = text_part(message)
    for line in (
        "Exports:          4",
        "Successful:       3",
        "Failed:           1",
        "Success rate:     75%",
    ):
        assert line in text
    assert "Sales: 3 / 3 / 0" in text and "Inventory: 1 / 0 / 1" in text
    assert "Records exported: 300" in text
    assert "interrupted" in text
    assert "75%" in html_part(message)


def test_weekly_summary_goes_to_the_owners_without_default_recipients(smtp, tenant, factory, runs):
    second_owner = factory.user(tenant.business, role="owner", email="second-owner@example.com")
    runs.schedule(tenant.business, tenant.owner)
    send_export_summary_report(SUNDAY_0815_UTC)
    assert recipients(smtp) == sorted([tenant.owner.email, second_owner.email])  # not the manager


def test_weekly_summary_is_sent_on_sunday_from_8_local_once_per_week(smtp, tenant, other_tenant, runs):
    runs.schedule(tenant.business, tenant.owner)  # UTC
    runs.schedule(other_tenant.business, other_tenant.owner)  # America/New_York, UTC-4 in March

    saturday = datetime(2024, 3, 16, 12, 0, tzinfo=UTC)
    assert send_export_summary_report(saturday)["summaries"] == 0
    assert send_export_summary_report(datetime(2024, 3, 17, 7, 59, tzinfo=UTC))["summaries"] == 0
    assert send_export_summary_report(datetime(2024, 3, 17, 8, 0, tzinfo=UTC))["summaries"] == 1
    assert recipients(smtp) == [tenant.owner.email]
    assert send_export_summary_report(datetime(2024, 3, 17, 9, 0, tzinfo=UTC))["summaries"] == 0  # once
    # 08:00 in New York is 12:00 UTC.
    assert send_export_summary_report(datetime(2024, 3, 17, 11, 59, tzinfo=UTC))["summaries"] == 0
    assert send_export_summary_report(datetime(2024, 3, 17, 12, 0, tzinfo=UTC))["summaries"] == 1
    assert send_export_summary_report(datetime(2024, 3, 17, 20, 0, tzinfo=UTC))["summaries"] == 0
    assert recipients(smtp) == sorted([tenant.owner.email, other_tenant.owner.email])
    # The next Sunday is a new week.
    assert send_export_summary_report(datetime(2024, 3, 24, 12, 0, tzinfo=UTC))["summaries"] == 2
    assert len(smtp.received) == 4


def test_forced_summary_is_sent_any_day_and_does_not_replace_sundays(smtp, tenant, runs):
    runs.schedule(tenant.business, tenant.owner)
    wednesday = datetime(2024, 3, 13, 10, 0, tzinfo=UTC)
    assert send_export_summary_report(wednesday)["summaries"] == 0
    assert send_export_summary_report(wednesday, force=True)["summaries"] == 1
    assert send_export_summary_report(SUNDAY_0815_UTC)["summaries"] == 1
    assert len(smtp.received) == 2


def test_businesses_without_schedules_or_runs_get_no_summary(smtp, tenant):
    assert send_export_summary_report(SUNDAY_0815_UTC)["businesses_checked"] == 0
    assert smtp.received == []


def test_summary_smtp_down_is_retried_by_the_outbox(smtp_port, tenant, runs):
    runs.schedule(tenant.business, tenant.owner)
    result = send_export_summary_report(SUNDAY_0815_UTC)
    assert result["summaries"] == 1 and result["sent"] == 0
    server = smtp_port.start()
    assert send_export_summary_report(SUNDAY_0815_UTC + timedelta(hours=1))["summaries"] == 0
    process_outbox(utcnow() + timedelta(hours=2))
    assert [r.rcpt_tos for r in server.received] == [[tenant.owner.email]]
    rows = db.session.scalars(select(MailMessage).where(MailMessage.kind == "summary")).all()
    assert [r.status for r in rows] == ["sent"]
