"""History (table, live rows, detail, rerun, download), one-off exports, statistics, notification
settings and home."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory, ExportNotificationSettings
from tests.web.web_helpers import HX

TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom'


def _toast(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["toast"]


def _real_export(client, export_type: str = "CUSTOMERS", fmt: str = "csv") -> ExportHistory:
    """A run with a real file, through the one-off export page (EXPORT_SYNC runs it at once)."""
    response = client.post("/exports/new", data={"export_type": export_type, "format": fmt}, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return db.session.query(ExportHistory).order_by(ExportHistory.created_at.desc()).first()


# --------------------------------------------------------------------------------------------
# The table


def test_history_table_shows_runs_in_words(owner, tenant, make_run):
    make_run(tenant.business, schedule_name="Monday sales", file_size=1572864, record_count=1234)
    make_run(
        tenant.business,
        export_type="INVENTORY",
        format="pdf",
        status="FAILED",
        error_message="The database did not answer in time.",
        file_name="",
        file_size=0,
        record_count=0,
    )
    body = owner.get("/history/").get_data(as_text=True)
    assert "Monday sales" in body and "One-off export" in body
    assert "1.5 MB" in body and "1,234" in body and "45s" in body
    assert 'data-status="FAILED"' in body and "The database did not answer in time." in body
    assert "1 Jan 2026 – 4 Jan 2026" in body
    # Times in the business's timezone, UTC on hover.
    assert re.search(r'<time datetime="[^"]+Z" title="\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC">', body)


def test_history_filters_like_the_api(owner, tenant, make_run, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner, name="Weekly")
    make_run(tenant.business, schedule_id=schedule.id, schedule_name="Weekly")
    make_run(tenant.business, status="FAILED", format="pdf", schedule_name="Broken")
    make_run(tenant.business, trigger="SCHEDULED", schedule_name="Nightly", export_type="AUDIT_LOGS")
    old = datetime.now(UTC) - timedelta(days=40)
    make_run(tenant.business, created_at=old, schedule_name="Old one")

    def names(query: str) -> list[str]:
        response = owner.get(f"/history/?{query}", headers=HX)
        assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
        return re.findall(
            r'class="strong" href="/history/[^"]+">([^<]+)</a>', response.get_data(as_text=True)
        )

    assert names("status=FAILED") == ["Broken"]
    assert names("format=pdf") == ["Broken"]
    assert names("trigger=SCHEDULED") == ["Nightly"]
    assert names("export_type=AUDIT_LOGS") == ["Nightly"]
    assert names(f"schedule_id={schedule.id}") == ["Weekly"]
    assert names(f"end_date={(old + timedelta(days=1)).date().isoformat()}") == ["Old one"]
    assert "Old one" not in names(f"start_date={(old + timedelta(days=1)).date().isoformat()}")
    assert "No runs match these filters." in owner.get("/history/?status=PENDING").get_data(as_text=True)
    bad = owner.get("/history/?status=LOST&start_date=2024-13-01").get_data(as_text=True)
    assert "Choose a status:" in bad and "Enter a date as YYYY-MM-DD" in bad and "Broken" in bad


def test_history_pages(owner, tenant, make_run):
    for n in range(25):
        make_run(tenant.business, schedule_name=f"Run {n}")
    first = owner.get("/history/").get_data(as_text=True)
    assert first.count('<tr id="run-') == 20 and "Page 1 of 2" in first and "Older →" in first
    second = owner.get("/history/?page=2", headers=HX).get_data(as_text=True)
    assert second.count('<tr id="run-') == 5 and "← Newer" in second
    # A page past the end (runs cleaned up since the link was made) shows the last page.
    beyond = owner.get("/history/?page=9").get_data(as_text=True)
    assert beyond.count('<tr id="run-') == 5 and "Page 2 of 2 · 25 in all" in beyond


def test_history_pages_move_by_cursor_and_keep_the_filters(owner, tenant, make_run):
    import html
    import re

    for n in range(45):
        make_run(tenant.business, schedule_name=f"Run {n}", status="FAILED" if n % 9 == 0 else "COMPLETED")
    first = owner.get("/history/?status=COMPLETED").get_data(as_text=True)
    assert "Page 1 of 2 · 40 in all" in first and "← Newer" not in first

    def link(body: str, label: str) -> str:
        found = re.search(r'<a class="btn btn-small" href="([^"]+)"[^>]*>' + re.escape(label), body)
        assert found, label
        return html.unescape(found.group(1))

    older = link(first, "Older →")
    assert "status=COMPLETED" in older and "cursor=" in older and "page=" not in older
    second = owner.get(older, headers=HX).get_data(as_text=True)
    assert second.count('<tr id="run-') == 20 and "Page 2 of 2" in second and "Older →" not in second
    rows = set(re.findall(r'<tr id="run-([^"]+)"', first)) | set(re.findall(r'<tr id="run-([^"]+)"', second))
    assert len(rows) == 40
    back = owner.get(link(second, "← Newer"), headers=HX).get_data(as_text=True)
    assert "Page 1 of 2" in back and re.findall(r'<tr id="run-([^"]+)"', back) == re.findall(
        r'<tr id="run-([^"]+)"', first
    )
    # A cursor that was edited is said and ignored: the first page shows.
    bad = owner.get("/history/?cursor=garbage").get_data(as_text=True)
    assert "This cursor is not valid" in bad and "Page 1 of 3" in bad


def test_empty_history_says_what_to_do(owner):
    body = owner.get("/history/").get_data(as_text=True)
    assert "Nothing has run yet." in body and 'href="/exports/new"' in body


def test_a_running_row_polls_itself_and_stops_when_finished(owner, tenant, make_run):
    run = make_run(tenant.business, status="PROCESSING", progress=2500, completed_at=None, file_name="")
    row = owner.get(f"/history/{run.id}/row", headers=HX)
    assert row.status_code == 200 and "HX-Request" in row.headers["Vary"]
    body = row.get_data(as_text=True)
    assert f'hx-get="/history/{run.id}/row" hx-trigger="load delay:1s"' in body
    assert "2,500 records so far" in body
    status = owner.get(f"/history/{run.id}/status", headers=HX).get_data(as_text=True)
    assert f'hx-get="/history/{run.id}/status" hx-trigger="load delay:1s"' in status

    run.status, run.completed_at, run.progress = "COMPLETED", datetime.now(UTC), 2600
    run.file_path = "exports/x/2026/01/y_sales.csv"
    db.session.commit()
    body = owner.get(f"/history/{run.id}/row", headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in body.split(">")[0]  # the row no longer asks for itself
    assert 'data-status="COMPLETED"' in body and f"/history/{run.id}/download" in body
    status = owner.get(f"/history/{run.id}/status", headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in status.split(">")[0]


def test_detail_shows_error_traceback_and_mail_delivery(owner, tenant, make_run):
    failed = make_run(
        tenant.business,
        status="FAILED",
        error_message="The database did not answer.",
        error_traceback=TRACEBACK,
    )
    body = owner.get(f"/history/{failed.id}").get_data(as_text=True)
    assert "What went wrong" in body and "The database did not answer." in body
    assert "ValueError: boom" in body and "Technical details" in body
    assert "Run again for the same period" in body

    mailed = make_run(
        tenant.business,
        status="EMAILED",
        email_delivery=[
            {"email": "accounts@example.com", "accepted": True, "error": None},
            {"email": "gone@example.com", "accepted": False, "error": "550 No such user"},
        ],
        email_sent_at=datetime.now(UTC),
    )
    body = owner.get(f"/history/{mailed.id}").get_data(as_text=True)
    assert re.search(r"accepted</span>\s*accounts@example.com", body)
    assert re.search(r"not accepted</span>\s*gone@example.com.*550 No such user", body, re.S)
    assert "ValueError" not in body
    fragment = owner.get(f"/history/{mailed.id}", headers=HX)
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="run-detail"')


def test_run_again_for_the_same_period(owner, tenant):
    response = owner.post(
        "/exports/new",
        data={
            "export_type": "SALES",
            "format": "csv",
            "filters.date_range": "custom",
            "filters.start_date": "2024-03-01",
            "filters.end_date": "2024-03-31",
        },
        headers=HX,
    )
    assert response.status_code == 200
    original = db.session.query(ExportHistory).one()
    rerun = owner.post(f"/history/{original.id}/rerun", headers=HX)
    assert rerun.status_code == 200
    assert rerun.get_data(as_text=True).lstrip().startswith('<tr id="run-')
    assert "same period" in _toast(rerun)["message"]
    again = db.session.query(ExportHistory).filter(ExportHistory.id != original.id).one()
    assert again.filters_applied["start_date"] == "2024-03-01"
    assert again.filters_applied["end_date"] == "2024-03-31"
    from_detail = owner.post(f"/history/{original.id}/rerun?from=detail", headers=HX)
    assert from_detail.headers["HX-Redirect"].startswith("/history/")


def test_download_a_file_signed_in(owner, tenant):
    run = _real_export(owner)
    assert run.is_downloadable, (run.status, run.error_message)
    response = owner.get(f"/history/{run.id}/download")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.data.startswith(b"\xef\xbb\xbf")
    audit = db.session.query(AuditLog).filter_by(action="export.download").one()
    assert audit.user_id == tenant.owner.id and audit.entity_id == str(run.id)


def test_download_of_a_run_without_a_file_is_a_clear_409(owner, tenant, make_run):
    failed = make_run(tenant.business, status="FAILED", file_path="")
    response = owner.get(f"/history/{failed.id}/download")
    assert response.status_code == 409
    assert "no file to download" in response.get_data(as_text=True)
    cleaned = make_run(tenant.business, status="COMPLETED", file_path="exports/gone/2026/01/x_y.csv")
    response = owner.get(f"/history/{cleaned.id}/download")
    assert response.status_code == 409
    assert "no longer available" in response.get_data(as_text=True)


def test_managers_can_download(manager, tenant, make_run):
    run = make_run(tenant.business, status="FAILED")
    assert manager.get(f"/history/{run.id}").status_code == 200
    assert manager.get(f"/history/{run.id}/download").status_code == 409  # allowed; no file


# --------------------------------------------------------------------------------------------
# One-off export


def test_one_off_export_runs_and_shows_in_the_list(owner, tenant):
    response = owner.post(
        "/exports/new",
        data={
            "export_type": "INVENTORY",
            "format": "excel",
            "filters.exclude_zero_value": "y",
            "recipients": ["stock@example.com"],
        },
        headers=HX,
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    run = db.session.query(ExportHistory).one()
    assert (run.export_type, run.format, run.trigger) == ("INVENTORY", "excel", "MANUAL")
    assert run.filters_applied.get("exclude_zero_value") is True
    assert run.override_recipients == ["stock@example.com"]
    assert f'<tr id="run-{run.id}"' in body
    assert (
        "Export started" in _toast(response)["message"] and "stock@example.com" in _toast(response)["message"]
    )


def test_one_off_export_errors_beside_fields(owner):
    response = owner.post(
        "/exports/new", data={"export_type": "SALES", "format": "excel", "recipients": ["nope"]}, headers=HX
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True).replace("&#39;", "'")
    assert "Choose a date range, or give a start date and an end date." in body
    assert "'nope' is not a valid e-mail address." in body
    assert db.session.query(ExportHistory).count() == 0


# --------------------------------------------------------------------------------------------
# Statistics


def test_statistics_figures_and_charts(owner, tenant, make_run):
    make_run(
        tenant.business, status="COMPLETED", format="excel", export_type="SALES", file_size=2 * 1024 * 1024
    )
    make_run(tenant.business, status="EMAILED", format="csv", export_type="SALES")
    make_run(tenant.business, status="FAILED", format="pdf", export_type="INVENTORY", file_size=0)
    make_run(
        tenant.business,
        status="PROCESSING",
        format="pdf",
        export_type="SALES",
        completed_at=None,
        file_size=0,
    )
    body = owner.get("/statistics/").get_data(as_text=True)
    assert re.search(r'data-figure="total">4<', body)
    assert re.search(r'data-figure="successful">2<', body)
    assert re.search(r'data-figure="failed">1<', body)
    assert re.search(r'data-figure="success-rate">66.7%<', body)
    # Runs per day (wide and narrow), by type, by format, average size by format.
    assert body.count("<svg") == 5
    assert re.search(r"Excel: 2 MB", body) and re.search(r"PDF: no files", body)
    assert "Runs per day over the last 30 days" in body
    assert re.search(r"Sales: 2 successful, 0 failed \(3 runs in all\)", body)
    assert re.search(r"PDF: 0 successful, 1 failed", body)
    assert 'class="bar-failed"' in body and 'class="bar-running"' in body
    # No chart library: the only scripts after <head> are the layout's htmx (CDN or local, and its fallback).
    scripts = re.findall(r"<script[^>]*>", body.split("</head>")[1])
    assert all("htmx" in tag for tag in scripts), scripts


def test_statistics_with_nothing_run(owner):
    body = owner.get("/statistics/").get_data(as_text=True)
    assert re.search(r'data-figure="success-rate">—<', body)
    assert "No runs in the last 30 days." in body


# --------------------------------------------------------------------------------------------
# Notification settings


def test_notification_settings_save_in_place(owner, tenant):
    response = owner.post(
        "/settings/notifications",
        data={
            "notify_on_failure": "y",
            "notify_on_success": "y",
            "default_recipients": ["a@example.com", "b@example.com"],
            "from_name": "Shop Reports",
            "reply_to_email": "help@example.com",
        },
        headers=HX,
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<form id="settings-form"')
    assert _toast(response)["message"] == "Notification settings saved."
    settings = db.session.query(ExportNotificationSettings).one()
    assert settings.notify_on_success and settings.notify_on_failure
    assert settings.default_recipients == ["a@example.com", "b@example.com"]
    assert (settings.from_name, settings.reply_to_email) == ("Shop Reports", "help@example.com")
    assert db.session.query(AuditLog).filter_by(action="notifications.update").count() == 1


def test_notification_settings_errors_lose_nothing(owner, tenant):
    response = owner.post(
        "/settings/notifications",
        data={
            "default_recipients": ["ok@example.com", "bad@"],
            "from_name": "Line\nbreak",
            "reply_to_email": "x",
        },
        headers=HX,
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True).replace("&#39;", "'")
    assert "'bad@' is not a valid e-mail address." in body
    assert "The sender name must be a single line." in body
    assert "'x' is not a valid e-mail address." in body
    assert 'value="ok@example.com"' in body and 'value="bad@"' in body
    assert "Nothing was saved." in body


# --------------------------------------------------------------------------------------------
# Home


def test_home_puts_what_needs_attention_first(owner, tenant, make_schedule, make_run):
    schedule = make_schedule(tenant.business, tenant.owner, name="Nightly audit", export_type="AUDIT_LOGS")
    schedule.next_run_at = datetime.now(UTC) - timedelta(hours=2)
    db.session.commit()
    make_schedule(tenant.business, tenant.owner, name="Next Monday")
    make_run(
        tenant.business,
        status="FAILED",
        schedule_name="Broke yesterday",
        error_message="Disk full.",
        created_at=datetime.now(UTC) - timedelta(days=1),
    )
    make_run(
        tenant.business,
        status="FAILED",
        schedule_name="Broke long ago",
        created_at=datetime.now(UTC) - timedelta(days=20),
    )
    make_run(tenant.business, status="COMPLETED", schedule_name="Fine", file_path="exports/a/2026/01/b_c.csv")
    body = owner.get("/").get_data(as_text=True)
    attention = body.split("Needs your attention")[1].split("Next runs")[0]
    assert "Broke yesterday" in attention and "Disk full." in attention
    assert "Broke long ago" not in attention
    assert "Nightly audit" in attention and "Due 2 hours ago" in attention
    next_runs = body.split("Next runs")[1].split("Latest exports")[0]
    assert "Next Monday" in next_runs and "Nightly audit" not in next_runs
    latest = body.split("Latest exports")[1]
    assert "Fine" in latest and "/download" in latest


def test_home_empty_states_say_what_to_do(owner):
    body = owner.get("/").get_data(as_text=True)
    assert "All good" in body
    assert "No schedules yet — create your first." in body
    assert "No exports yet." in body
