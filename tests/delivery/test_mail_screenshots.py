"""The four mails (and the download page) rendered in headless Chromium, saved as PNG under
tests/artifacts/mails/ (git-ignored) at a desktop mail-client width and a phone width, to be looked
at. The test also checks what a reader relies on: no horizontal scrolling on a phone, no external
resources, the button visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.delivery import deliver_run_result, send_export_summary_report
from dashboard.extensions import db, mail
from dashboard.models import ExportHistory, ExportNotificationSettings
from tests.delivery.delivery_helpers import path_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "mails"
WIDTHS = {"desktop": 720, "phone": 375}
TEXTS: dict[str, str] = {}  # the plain-text parts, saved beside the screenshots


@pytest.fixture
def chromium(browser):
    """The session's shared headless Chromium (tests/conftest.py)."""
    return browser


def make_mails(tenant, runs) -> dict[str, str]:
    """The four mails as the delivery code renders them, for a café in London."""
    business = tenant.business
    business.name = "Corner Café"
    business.timezone = "Europe/London"
    db.session.add(
        ExportNotificationSettings(
            business_id=business.id,
            notify_on_success=True,
            notify_on_failure=True,
            # The owner, a member: the mails they get carry the "Open the dashboard" button.
            default_recipients=[tenant.owner.email],
            from_name="Corner Café Exports",
            reply_to_email="office@corner-cafe.example.com",
        )
    )
    db.session.commit()
    schedule = runs.schedule(
        business,
        tenant.owner,
        name="Daily sales for accounting",
        recipients=["accounting@example.com"],
        email_message="Good morning,\nhere is yesterday's sales export for the books.\n— Olive",
        next_run_at=datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=1),
    )
    mails: dict[str, str] = {}
    texts = TEXTS
    with mail.record_messages() as outbox:
        deliver_run_result(
            runs.completed(business, schedule, content=b"x" * 1_572_864, record_count=1_284).id
        )
        failed = runs.failed(
            business,
            schedule,
            error_message="Run interrupted: the worker stopped responding (no heartbeat for 1800 s).",
            failure_category="interrupted",
            next_retry_at=datetime.now(UTC) + timedelta(minutes=5),
        )
        deliver_run_result(failed.id)
    for message in outbox:
        kind = "export_success" if message.recipients == ["accounting@example.com"] else None
        if message.subject.startswith("Export completed"):
            kind = "success_notice"
        elif message.subject.startswith("Export failed"):
            kind = "export_failure"
        mails[kind] = message.html
        texts[kind] = message.body
    base = datetime.now(UTC) - timedelta(days=3)
    for i, (kind, status) in enumerate(
        [("SALES", "EMAILED")] * 6
        + [("CUSTOMERS", "EMAILED"), ("INVENTORY", "COMPLETED"), ("SALES", "FAILED")]
    ):
        db.session.add(
            ExportHistory(
                business_id=business.id,
                schedule_name="Daily sales for accounting" if kind == "SALES" else "",
                export_type=kind,
                format="excel",
                status=status,
                record_count=1200,
                file_size=1_500_000,
                error_message="Run interrupted" if status == "FAILED" else "",
                failure_category="interrupted" if status == "FAILED" else None,
                created_at=base + timedelta(hours=i * 5),
            )
        )
    db.session.commit()
    with mail.record_messages() as outbox:
        send_export_summary_report(force=True)
    mails["weekly_summary"] = outbox[0].html
    texts["weekly_summary"] = outbox[0].body
    return mails


def test_screenshots_of_the_four_mails_and_the_download_page(chromium, tenant, runs, client):
    mails = make_mails(tenant, runs)
    assert set(mails) == {"export_success", "export_failure", "success_notice", "weekly_summary"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, html in mails.items():
        # Mail clients load nothing from outside: no <img>, <script>, <link> or url(...).
        for forbidden in ("<script", "<img", "<link", "url("):
            assert forbidden not in html.lower(), (name, forbidden)
        (ARTIFACTS / f"{name}.html").write_text(html, encoding="utf-8")
        (ARTIFACTS / f"{name}.txt").write_text(TEXTS[name], encoding="utf-8")
        assert "{{" not in TEXTS[name] and "\n\n\n" not in TEXTS[name]
        for label, width in WIDTHS.items():
            page = chromium.new_page(viewport={"width": width, "height": 900})
            page.set_content(html)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways on {label} ({overflow}px)"
            page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
            page.close()

    # The download page, signed out, on a phone: served by the app through a routed fetch.
    history = db.session.query(ExportHistory).filter(ExportHistory.status == "EMAILED").first()
    from dashboard.storage.links import make_download_url

    url = make_download_url(history)

    def serve(route):
        response = client.get(path_of(route.request.url))
        route.fulfill(status=response.status_code, headers=dict(response.headers), body=response.data)

    for label, width in WIDTHS.items():
        page = chromium.new_page(viewport={"width": width, "height": 800})
        page.route("http://localhost/**", serve)
        page.goto(url)
        assert page.get_by_role("link", name="Download Excel file").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=str(ARTIFACTS / f"download_page-{label}.png"), full_page=True)
        page.goto(url[:-4] + "abcd")
        page.screenshot(path=str(ARTIFACTS / f"download_invalid-{label}.png"), full_page=True)
        page.close()
