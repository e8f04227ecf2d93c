"""The export mail end to end with a real SMTP server: recipients, attachment, subject, message,
text and HTML parts, and the signed link that downloads the file without signing in."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.delivery import deliver_run_result, process_outbox
from dashboard.delivery.policy import encoded_size
from dashboard.delivery.render import render_export_mail
from dashboard.extensions import db
from dashboard.models import AuditLog, ExportNotificationSettings, MailMessage
from dashboard.models.automation import STATUS_COMPLETED, STATUS_EMAILED
from dashboard.models.types import utcnow
from dashboard.storage.links import make_download_url
from tests.delivery.delivery_helpers import attachments, html_part, link_in, path_of, text_part

SPREADSHEET = b"PK\x03\x04" + bytes(range(256)) * 40


def test_run_mails_each_recipient_once_with_file_subject_message_and_working_link(smtp, tenant, runs, client):
    schedule = runs.schedule(
        tenant.business,
        tenant.owner,
        recipients=["accounting@example.com", "Boss@Example.com", "boss@example.com"],
        include_creator_email=True,
        email_subject="Daily Sales Report",
        email_message="Please find attached the daily sales export.\nThanks, <Olive> & co",
    )
    history = runs.completed(tenant.business, schedule, content=SPREADSHEET)

    deliver_run_result(history.id)
    deliver_run_result(history.id)  # called twice (a retried hook): nothing is sent twice
    process_outbox(utcnow() + timedelta(days=1))

    expected = ["accounting@example.com", "Boss@Example.com", tenant.owner.email]
    assert sorted(a.lower() for r in smtp.received for a in r.rcpt_tos) == sorted(a.lower() for a in expected)
    assert len(smtp.received) == 3  # one message per recipient, nobody twice
    # Each mail carries its own recipient in To and its row's Message-ID (the bytes of the first
    # rendering are reused for the others with these two headers swapped).
    row_ids = {r.recipient.lower(): r.message_id for r in db.session.scalars(select(MailMessage))}
    assert {r.rcpt_tos[0].lower(): r.message["Message-ID"] for r in smtp.received} == row_ids
    assert len(set(row_ids.values())) == 3

    for received in smtp.received:
        message = received.message
        assert message["Subject"] == "Daily Sales Report"
        assert message["To"].lower() == received.rcpt_tos[0].lower()
        assert message["From"] == f"{tenant.business.name} <exports@example.com>"
        assert received.mail_from == "exports@example.com"
        assert message["Auto-Submitted"] == "auto-generated"
        text, html = text_part(message), html_part(message)
        assert "Please find attached the daily sales export." in text
        assert "Thanks, <Olive> & co" in text
        assert "Thanks, &lt;Olive&gt; &amp; co" in html  # escaped in HTML
        for needle in ("Sales", "Excel", "42", "Test Shop", "14 Mar 2024", "attached"):
            assert needle in text and needle in html
        (attached,) = attachments(message)
        assert attached.get_filename() == "sales_export_2024-03-15.xlsx"
        assert (
            attached.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert attached.get_content() == SPREADSHEET
        link = link_in(message)

    db.session.refresh(history)
    assert history.status == STATUS_EMAILED
    assert history.email_sent is True and history.email_sent_at is not None
    assert [d["email"] for d in history.email_delivery] == expected
    assert all(d["accepted"] and d["error"] is None for d in history.email_delivery)
    assert history.email_recipients == expected

    # The link works signed out: a page first, then the file.
    page = client.get(path_of(link))
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "sales_export_2024-03-15.xlsx" in body and "Sales" in body and "Excel" in body
    assert "<td data-period>14 Mar 2024</td>" in body  # the data's period (issue 18 item 5)
    assert page.headers["Cache-Control"] == "private, no-store"
    download = client.get(path_of(link) + "/file")
    assert download.status_code == 200
    assert download.data == SPREADSHEET
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "sales_export_2024-03-15.xlsx" in download.headers["Content-Disposition"]
    assert download.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "export.download")).all()
    assert len(audit) == 1
    assert audit[0].details == "via e-mail link" and audit[0].entity_id == str(history.id)
    assert audit[0].user_id is None and audit[0].business_id == tenant.business.id


def test_default_subject_from_name_reply_to_and_header_injection(smtp, tenant, runs):
    business = tenant.business
    business.timezone = "Europe/London"
    db.session.add(
        ExportNotificationSettings(
            business_id=business.id,
            from_name="Corner Café\r\nBcc: victim@example.com",
            reply_to_email="office@example.com",
            default_recipients=[],
        )
    )
    db.session.commit()
    schedule = runs.schedule(
        business, tenant.owner, recipients=["a@example.com"], email_subject="Report\r\nBcc: evil@example.com"
    )
    history = runs.completed(
        business, schedule, completed_at=datetime(2024, 3, 15, 23, 30, tzinfo=UTC)
    )  # 15 Mar in London (GMT)
    deliver_run_result(history.id)
    (received,) = smtp.received
    assert received.rcpt_tos == ["a@example.com"]
    message = received.message
    assert message["Subject"] == "Report Bcc: evil@example.com"
    assert message["Bcc"] is None
    assert message["From"] == '"Corner Café Bcc: victim@example.com" <exports@example.com>'
    assert message["Reply-To"] == "office@example.com"
    assert "15 Mar 2024, 23:30 GMT" in text_part(message)

    schedule.email_subject = ""
    db.session.commit()
    second = runs.completed(business, schedule, completed_at=datetime(2024, 7, 15, 23, 30, tzinfo=UTC))
    deliver_run_result(second.id)
    message = smtp.received[-1].message
    # The default subject names the schedule and the data's period (CONTRACT section 6), not the
    # run's date; the generation time is in the business's time: 23:30 UTC on 15 July is 00:30 BST.
    assert message["Subject"] == f"Daily sales — Sales export (Excel) — {business.name} — 14 Mar 2024"
    assert "16 Jul 2024, 00:30 BST" in text_part(message)
    # Without a period (a customers export), the run's date in the business's time.
    second.filters_applied = {}
    second.export_type = "CUSTOMERS"
    db.session.commit()
    notification_settings = db.session.scalar(
        select(ExportNotificationSettings).where(ExportNotificationSettings.business_id == business.id)
    )
    assert render_export_mail(second, notification_settings).subject == (
        f"Daily sales — Customers export (Excel) — {business.name} — 16 Jul 2024"
    )


def test_tampered_expired_cleaned_and_foreign_links_never_give_the_file(tenant, runs, client, app):
    history = runs.completed(tenant.business, None, content=SPREADSHEET)
    good = path_of(make_download_url(history))
    assert client.get(good + "/file").data == SPREADSHEET

    token = good.rsplit("/", 1)[1]
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    expired = path_of(make_download_url(history, issued_at=utcnow() - timedelta(days=8)))
    for path, status, words in [
        (tampered, 404, "not valid"),
        ("/d/not-a-token", 404, "not valid"),
        ("/d/" + token[: len(token) // 2], 404, "not valid"),
        (expired, 410, "expired"),
    ]:
        for suffix in ("", "/file"):
            response = client.get(path + suffix)
            assert response.status_code == status, (path, suffix)
            body = response.get_data(as_text=True)
            assert words in body
            assert SPREADSHEET not in response.data
            assert "Traceback" not in body
            assert "attachment" not in response.headers.get("Content-Disposition", "")

    # A signature made with another salt (e.g. a session cookie's) is refused.
    from itsdangerous import URLSafeTimedSerializer

    other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="cookie-session").dumps(
        {"h": str(history.id), "b": str(history.business_id)}
    )
    assert client.get(f"/d/{other}/file").status_code == 404

    # A genuine signature for a record of another business id: 404 like an unknown one.
    forged = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="export-download").dumps(
        {"h": str(history.id), "b": "00000000-0000-0000-0000-000000000000"}
    )
    assert client.get(f"/d/{forged}").status_code == 404

    # Cleaned up: the record stays, its file_path is cleared -> 410 with a clear page.
    history.file_path = ""
    db.session.commit()
    for suffix in ("", "/file"):
        response = client.get(good + suffix)
        assert response.status_code == 410
        assert "no longer available" in response.get_data(as_text=True)
    assert not db.session.scalars(select(AuditLog).where(AuditLog.action == "export.download")).all()[1:]


def test_file_deleted_from_storage_behind_the_records_back_answers_410(tenant, runs, client):
    from dashboard.storage import get_storage

    history = runs.completed(tenant.business, None)
    link = path_of(make_download_url(history))
    get_storage().delete_export_file(history.file_path)
    response = client.get(link + "/file")
    assert response.status_code == 410
    assert "no longer available" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ['bad"name\r\n.xlsx', "ünïcode report.xlsx", "../../etc/passwd"])
def test_download_name_is_sanitized(tenant, runs, client, name):
    history = runs.completed(tenant.business, None)
    history.file_name = name
    db.session.commit()
    response = client.get(path_of(make_download_url(history)) + "/file")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert (
        "\r" not in disposition
        and "\n" not in disposition
        and "/" not in disposition.split("filename")[1][:3]
    )
    assert disposition.count('"') in (0, 2)


def test_a_15_mb_file_arrives_as_a_link_with_the_reason(smtp, tenant, runs, client):
    content = os.urandom(15 * 1024 * 1024)
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["big@example.com"])
    history = runs.completed(tenant.business, schedule, content=content)
    deliver_run_result(history.id)
    (received,) = smtp.received
    message = received.message
    assert attachments(message) == []
    assert len(received.data) < 100_000
    text = " ".join(text_part(message).split())
    assert "The file is not attached" in text
    assert "15 MB" in text and "20.5 MB once encoded for e-mail" in text and "10 MB" in text
    assert "not attached" in html_part(message)
    response = client.get(path_of(link_in(message)) + "/file")
    assert response.status_code == 200 and response.data == content
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED


@pytest.mark.parametrize("mail_overrides", [{"MAIL_MAX_ATTACHMENT_MB": 0.001}])  # 1,048 bytes
def test_attachment_limit_counts_the_encoded_size(smtp, tenant, runs):
    limit = int(0.001 * 1024 * 1024)
    fits = max(n for n in range(0, 2000) if encoded_size(n) <= limit)
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["x@example.com"])
    small = runs.completed(tenant.business, schedule, content=b"a" * fits)
    large = runs.completed(tenant.business, schedule, content=b"a" * (fits + 1))
    deliver_run_result(small.id)
    deliver_run_result(large.id)
    first, second = (r.message for r in smtp.received)
    assert len(attachments(first)) == 1
    assert attachments(second) == [] and "not attached" in text_part(second)
    assert fits < limit  # base64 grows the file: a file just under the limit does not fit


@pytest.mark.nodb
def test_encoded_size_matches_what_the_mail_carries():
    import base64

    for n in (0, 1, 2, 3, 57, 58, 1000, 123_457):
        encoded = base64.encodebytes(b"x" * n)  # 76-character lines, as in mail
        assert encoded_size(n) == len(encoded.replace(b"\n", b"\r\n"))


def test_truncated_pdf_says_how_many_records_it_holds(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["x@example.com"], format="pdf")
    history = runs.completed(
        tenant.business,
        schedule,
        content=b"%PDF-1.4 pretend",
        file_name="sales_export_2024-03-15.pdf",
        record_count=10_000,
        total_records=25_000,
        truncated=True,
    )
    deliver_run_result(history.id)
    message = smtp.received[0].message
    for part in (text_part(message), html_part(message)):
        assert "holds the first 10,000 of 25,000 records" in part
        assert "Excel or CSV" in part
    assert attachments(message)[0].get_content_type() == "application/pdf"


def test_no_server_configured_writes_eml_files_and_fires_the_signal(tenant, runs, app):
    from dashboard.extensions import mail

    assert not app.config["MAIL_SERVER"]
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["a@example.com", "b@example.com"])
    history = runs.completed(tenant.business, schedule)
    with mail.record_messages() as outbox:
        deliver_run_result(history.id)
    assert sorted(m.recipients[0] for m in outbox) == ["a@example.com", "b@example.com"]
    files = sorted(os.listdir(app.config["MAIL_OUTBOX_DIR"]))
    assert len(files) == 2 and all(f.endswith(".eml") for f in files)
    import email
    from email import policy

    with open(os.path.join(app.config["MAIL_OUTBOX_DIR"], files[0]), "rb") as handle:
        written = email.message_from_bytes(handle.read(), policy=policy.default)
    assert written["Subject"].startswith("Daily sales — Sales export (Excel)")  # schedule name first
    assert len(attachments(written)) == 1
    db.session.refresh(history)
    assert history.status == STATUS_EMAILED  # the outbox counts as accepted
    rows = db.session.scalars(select(MailMessage)).all()
    assert {r.status for r in rows} == {"sent"}
    assert {r.message_id for r in rows} == {m.msgId for m in outbox}


def test_completed_run_without_file_still_reports_truthfully(smtp, tenant, runs):
    schedule = runs.schedule(tenant.business, tenant.owner, recipients=["x@example.com"])
    history = runs.completed(tenant.business, schedule, content=None)
    deliver_run_result(history.id)
    message = smtp.received[0].message
    assert attachments(message) == []
    assert "no longer available" in text_part(message)
    db.session.refresh(history)
    assert history.status in (STATUS_EMAILED, STATUS_COMPLETED)
