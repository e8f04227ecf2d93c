"""Contract section 6 and issue 20 item 5, read back from a real SMTP server: one failure alert
when a run fails (with its next retry) and one more when its retries are exhausted; a test send
says "[Test]"; a run-now mail says who ran it; people outside the business get no dashboard link."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from dashboard.automation.runner import ScheduledExportRunner
from dashboard.base_url import external_base_url
from dashboard.delivery import deliver_run_result, process_outbox
from dashboard.delivery.display import local_time
from dashboard.extensions import db
from dashboard.models.automation import STATUS_FAILED, ExportHistory, ExportNotificationSettings
from dashboard.models.types import utcnow
from tests.conftest import PASSWORD
from tests.delivery.delivery_helpers import html_part, text_part

EXTERNAL = "accountant@outside-firm.example.com"


def dashboard_links(message) -> list[str]:
    """Every place the mail points at the dashboard's home (not at a download link)."""
    root = re.escape(external_base_url() + "/")
    found = re.findall(root + r'(?=["\s<]|$)', text_part(message), flags=re.M)
    found += re.findall(f'href="{root}"', html_part(message))
    if "Open the dashboard" in text_part(message) + html_part(message):
        found.append("Open the dashboard")
    return found


def sign_in(auth, user) -> None:
    user.set_password(PASSWORD)  # the delivery tests' people have none (hashing is slow)
    db.session.commit()
    assert auth.login(user.email).status_code == 302


def test_a_failing_run_with_retries_sends_exactly_two_alerts(smtp, tenant, runs):
    schedule = runs.schedule(
        tenant.business,
        tenant.owner,
        name="Broken sales",
        format="csv",
        recipients=["accounting@example.com"],
        filters={"start_date": "2024-03-10", "end_date": "2024-03-01"},  # end before start
    )
    first = ScheduledExportRunner().execute_schedule(schedule, "SCHEDULED")
    db.session.refresh(first)
    assert first.status == STATUS_FAILED and first.next_retry_at is not None
    retry_at = local_time(first.next_retry_at, tenant.business)

    later = utcnow() + timedelta(hours=3)  # past every backoff (5, 10, 20 minutes), within 24 h
    for _ in range(5):
        ScheduledExportRunner().retry_failed_exports(later, wait=True)
        process_outbox(later)
    chain = db.session.scalars(select(ExportHistory).order_by(ExportHistory.attempt)).all()
    assert [(h.attempt, h.status) for h in chain] == [(n, STATUS_FAILED) for n in (1, 2, 3, 4)]
    assert chain[-1].next_retry_at is None  # EXPORT_MAX_RETRIES (3) used up

    alerts = smtp.handler.to(tenant.owner.email)
    assert len(smtp.received) == len(alerts) == 2  # not one per attempt
    first_alert, last_alert = (a.message for a in alerts)
    assert first_alert["Subject"] == "Export failed: Broken sales (CSV) — Test Shop"
    assert f"It will be retried automatically at {retry_at}." in text_part(first_alert)
    assert retry_at in html_part(first_alert)
    assert last_alert["Subject"] == "Export still failing after 4 attempts: Broken sales (CSV) — Test Shop"
    for part in (text_part(last_alert), html_part(last_alert)):
        assert "failed again on" in part
        assert "It failed 4 times in a row: it will not be retried automatically again." in part
        assert "retried automatically at" not in part


def test_a_test_send_says_test_in_its_subject_and_body(smtp, tenant, runs, client, auth):
    schedule = runs.schedule(
        tenant.business,
        tenant.owner,
        export_type="INVENTORY",
        filters={},
        recipients=["accounting@example.com"],
    )
    sign_in(auth, tenant.manager)
    assert client.post(f"/schedules/{schedule.id}/test").status_code == 303
    [mail] = smtp.received
    assert mail.rcpt_tos == [tenant.manager.email]  # the sender only
    message = mail.message
    assert message["Subject"].startswith("[Test] ")
    for part in (text_part(message), html_part(message)):
        assert "[Test]" in part and "This is a test send" in part
        assert "sent as a test by Manny Manager" in part
        assert "scheduled export" not in part
    db.session.refresh(schedule)
    run = db.session.scalar(select(ExportHistory).where(ExportHistory.schedule_id == schedule.id))
    assert run.is_test is True


def test_a_run_now_mail_says_who_ran_it(smtp, tenant, runs, client, auth):
    schedule = runs.schedule(
        tenant.business,
        tenant.owner,
        export_type="INVENTORY",
        filters={},
        recipients=["accounting@example.com"],
    )
    sign_in(auth, tenant.manager)
    assert client.post(f"/schedules/{schedule.id}/run").status_code == 303
    [mail] = smtp.received
    assert mail.rcpt_tos == ["accounting@example.com"]
    message = mail.message
    assert not message["Subject"].startswith("[Test]")
    for part in (text_part(message), html_part(message)):
        assert "run now by Manny Manager" in part
        assert "scheduled export" not in part and "[Test]" not in part


def test_a_scheduled_run_still_says_scheduled(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["accounting@example.com"])
    deliver_run_result(runs.completed(tenant.business, schedule).id)
    text = text_part(smtp.received[0].message)
    assert 'The scheduled export "Daily sales" for Test Shop finished on' in text
    assert " by " not in text.splitlines()[3]


def test_people_outside_the_business_get_no_dashboard_link(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=[tenant.manager.email, EXTERNAL])
    deliver_run_result(runs.completed(tenant.business, schedule).id)
    member = smtp.handler.to(tenant.manager.email)[0].message
    outsider = smtp.handler.to(EXTERNAL)[0].message
    assert dashboard_links(member) and not dashboard_links(outsider)
    # Everything else is the same mail: the download link, the file, the subject.
    assert outsider["Subject"] == member["Subject"]
    assert "/d/" in text_part(outsider) and len(list(outsider.iter_attachments())) == 1


def test_a_failure_alert_to_an_outside_address_has_no_dashboard_link(smtp, tenant, runs):
    db.session.add(
        ExportNotificationSettings(
            business_id=tenant.business.id,
            from_name="Test Shop",
            default_recipients=[EXTERNAL, tenant.owner.email],
        )
    )
    db.session.commit()
    schedule = runs.schedule(tenant.business, tenant.owner)
    deliver_run_result(runs.failed(tenant.business, schedule).id)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted([EXTERNAL, tenant.owner.email])
    assert dashboard_links(smtp.handler.to(tenant.owner.email)[0].message)
    assert not dashboard_links(smtp.handler.to(EXTERNAL)[0].message)


def test_failure_words_cover_every_stored_category_once():
    from dashboard.core.failure_words import FAILURE_WORDS, failure_words
    from dashboard.models.automation import FAILURE_CATEGORIES

    assert set(FAILURE_WORDS) == set(FAILURE_CATEGORIES)
    sentences = [words.what for words in FAILURE_WORDS.values()]
    assert len(set(sentences)) == len(sentences)  # each category its own sentence
    assert all(
        words.advice and all(a.endswith(".") for a in words.advice) for words in FAILURE_WORDS.values()
    )
    assert failure_words(None) == failure_words("no-such-category") == FAILURE_WORDS["unknown"]


def test_the_failure_mail_advises_by_the_stored_category_not_the_message(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner)
    # The message mentions a "date" column; the category says it was the file storage.
    deliver_run_result(
        runs.failed(
            tenant.business,
            schedule,
            error_message="OperationalError: invalid date in column created_at",
            failure_category="storage",
        ).id
    )
    text = " ".join(text_part(smtp.received[0].message).split())
    html = html_part(smtp.received[0].message)
    assert "The export file could not be saved: the file storage is full or unavailable." in text
    assert "Ask whoever runs the dashboard to free space" in text and "free space" in html
    assert "settings are not valid" not in text and "database could not be reached" not in text
    assert "OperationalError: invalid date in column created_at" in text  # the details stay beside it
