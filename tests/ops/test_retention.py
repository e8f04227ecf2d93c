"""Retention of history rows, mail messages and audit entries, applied by the cleanup job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from dashboard.automation import jobs
from dashboard.extensions import db
from dashboard.models import AuditLog
from dashboard.models.automation import ExportHistory, MailMessage
from dashboard.models.types import utcnow


def make_rows(business, days_ago: int, tag: str):
    created = utcnow() - timedelta(days=days_ago)
    runs = {}
    for status in ("COMPLETED", "FAILED", "PENDING"):
        run = ExportHistory(
            business_id=business.id, export_type="SALES", format="csv", status=status, created_at=created
        )
        db.session.add(run)
        runs[status] = run
    db.session.flush()
    for status in ("sent", "failed", "pending"):
        db.session.add(
            MailMessage(
                business_id=business.id,
                kind="summary",
                dedupe_key=f"{tag}-{status}",
                recipient="a@example.com",
                message_id=f"<{tag}-{status}@example.com>",
                status=status,
                created_at=created,
            )
        )
    db.session.add(
        MailMessage(
            business_id=business.id,
            history_id=runs["COMPLETED"].id,
            kind="export",
            dedupe_key=f"{tag}-run",
            recipient="a@example.com",
            message_id=f"<{tag}-run@example.com>",
            status="pending",
            created_at=created,
        )
    )
    db.session.add(AuditLog(business_id=business.id, action="schedule.created", created_at=created))
    db.session.add(
        AuditLog(business_id=business.id, action="pos", external_id=f"pos-{tag}", created_at=created)
    )
    db.session.commit()


def tally():
    history = dict(
        db.session.execute(select(ExportHistory.status, func.count()).group_by(ExportHistory.status)).all()
    )
    mail = dict(
        db.session.execute(select(MailMessage.status, func.count()).group_by(MailMessage.status)).all()
    )
    audit = db.session.scalar(select(func.count(AuditLog.id)))
    return history, mail, audit


def test_nothing_is_deleted_by_default(app, factory):
    business = factory.business()
    make_rows(business, 400, "old")
    before = tally()
    summary = jobs.cleanup_old_exports()
    assert summary["history_deleted"] == summary["mail_deleted"] == summary["audit_deleted"] == 0
    assert tally() == before


def test_retention_deletes_only_old_finished_rows(app_factory):
    app = app_factory(HISTORY_RETENTION_DAYS=90, MAIL_RETENTION_DAYS=30, AUDIT_RETENTION_DAYS=365)
    with app.app_context():
        from tests.conftest import Factory

        business = Factory(app).business()
        make_rows(business, 400, "old")  # past every cutoff
        make_rows(business, 60, "mid")  # past the mail cutoff only
        make_rows(business, 1, "new")
        summary = jobs.cleanup_old_exports()
        history, mail, audit = tally()
    # Runs: the old COMPLETED and FAILED go (the COMPLETED one's mail row with it); PENDING stays.
    assert summary["history_deleted"] == 2
    assert history == {"COMPLETED": 2, "FAILED": 2, "PENDING": 3}
    # Mail: sent/failed rows older than 30 days go (old and mid); pending ones stay.
    assert summary["mail_deleted"] == 4
    assert mail == {"sent": 1, "failed": 1, "pending": 5}
    # Audit: the dashboard's own old entry goes; the POS's imported entries are never touched.
    assert summary["audit_deleted"] == 1 and audit == 5


def test_cleanup_command_prints_the_retention_figures(app_factory):
    app = app_factory(MAIL_RETENTION_DAYS=1)
    result = app.test_cli_runner().invoke(args=["exports", "cleanup"])
    assert result.exit_code == 0 and "0 mail deleted" in result.output
