"""E-mail, the first delivery channel: the export mail with its files (attached, or linked when
too large), failure alerts, success notices; and the classic per-run mail service over it."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select

from dashboard.core.labels import content_type
from dashboard.delivery import outbox
from dashboard.delivery.channels import Channel, RunFile, register
from dashboard.delivery.email_sending import send_rows, sync_history_delivery
from dashboard.delivery.outbox import KIND_EXPORT, KIND_FAILURE, KIND_SUCCESS
from dashboard.delivery.recipients import (
    ALERT_FINAL,
    clean_list,
    export_recipients,
    failure_alert_stage,
    failure_recipients,
    success_notice_recipients,
)
from dashboard.delivery.render import (
    by_audience,
    render_export_mail,
    render_failure_alert,
    render_success_notice,
)
from dashboard.extensions import db
from dashboard.models.automation import (
    MAIL_SENT,
    STATUS_FAILED,
    SUCCESS_STATUSES,
    ExportHistory,
    ExportNotificationSettings,
    MailMessage,
    get_settings,
)
from dashboard.models.pos import Business
from dashboard.models.types import utcnow


def _queue(history: ExportHistory, kind: str, recipients: list[str], render, now: datetime | None) -> int:
    return outbox.enqueue(
        business_id=history.business_id,
        history_id=history.id,
        kind=kind,
        recipients=recipients,
        content=by_audience(history.business_id, render),
        key_parts=(kind, history.id),
        now=now,
    )


def enqueue_run_mails(history: ExportHistory, now: datetime | None = None) -> int:
    """Queue every mail a finished run gives rise to; commits. Idempotent."""
    settings = get_settings(history.business)
    queued = 0
    if history.status in SUCCESS_STATUSES:
        export_to = export_recipients(history)
        if export_to:
            render = partial(render_export_mail, history, settings)
            queued += _queue(history, KIND_EXPORT, export_to, lambda member: render(member=member), now)
            if list(history.email_recipients or []) != export_to:
                history.email_recipients = export_to
        notice_to = success_notice_recipients(history, settings, export_to)
        if notice_to:
            render = partial(render_success_notice, history, settings, export_to)
            queued += _queue(history, KIND_SUCCESS, notice_to, lambda member: render(member=member), now)
    elif history.status == STATUS_FAILED:
        stage = failure_alert_stage(history)
        alert_to = failure_recipients(history, settings) if stage else []
        if alert_to:
            final = stage == ALERT_FINAL
            render = partial(render_failure_alert, history, settings, final=final)
            queued += _queue(history, KIND_FAILURE, alert_to, lambda member: render(member=member), now)
    db.session.commit()
    return queued


@register
class EmailChannel(Channel):
    """Mails to people: one row per recipient, sent over one SMTP connection a pass, within the
    business's daily limit."""

    kind = "email"

    def queue(
        self,
        run: ExportHistory,
        files: Sequence[RunFile],
        destination: dict | None = None,
        index: int = 0,
        now: datetime | None = None,
    ) -> int:
        return enqueue_run_mails(run, now)

    def send(self, row_ids: list[uuid.UUID], now: datetime | None = None) -> Counter:
        return send_rows(row_ids, now)

    def record(self, run_id: uuid.UUID) -> None:
        sync_history_delivery(run_id)


class EmailDeliveryService:
    """The per-run mail service: each method queues the mail, sends it now, and returns the
    per-recipient results as recorded (`[{"email", "accepted", "error"}]`)."""

    def send_export_email(self, history: ExportHistory, recipients: list[str] | None = None) -> list[dict]:
        settings = get_settings(history.business)
        recipients = clean_list(recipients) if recipients is not None else export_recipients(history)
        return self._queue_and_send(
            history, KIND_EXPORT, recipients, lambda member: render_export_mail(history, settings, member)
        )

    def send_failure_notification(
        self, history: ExportHistory, recipients: list[str] | None = None, error_message: str | None = None
    ) -> list[dict]:
        settings = get_settings(history.business)
        if error_message and not history.error_message:
            history.error_message = error_message
        if recipients is None:
            recipients = failure_recipients(history, settings)
        return self._queue_and_send(
            history,
            KIND_FAILURE,
            clean_list(recipients),
            lambda member: render_failure_alert(history, settings, member),
        )

    def _queue_and_send(
        self, history: ExportHistory, kind: str, recipients: list[str], render: Callable[[bool], Any]
    ) -> list[dict]:
        """Queue one `kind` mail of the run (rendered only when somebody receives it), commit,
        send it now and report per recipient."""
        if recipients:
            _queue(history, kind, recipients, render, None)
        db.session.commit()
        return self._send_and_report(history.id, kind)

    def _send_and_report(self, history_id: uuid.UUID, kind: str) -> list[dict]:
        send_rows(outbox.pending_ids(utcnow(), history_id=history_id, channel=EmailChannel.kind))
        sync_history_delivery(history_id)
        rows = db.session.scalars(
            select(MailMessage)
            .where(
                MailMessage.history_id == history_id, MailMessage.kind == kind, MailMessage.channel == "email"
            )
            .execution_options(populate_existing=True)
        ).all()
        return [
            {"email": r.recipient, "accepted": r.status == MAIL_SENT, "error": outbox.describe_row(r)}
            for r in rows
        ]

    def _get_notification_settings(self, business: Business) -> ExportNotificationSettings:
        return get_settings(business)

    @staticmethod
    def _get_content_type(export_format: str) -> str:
        return content_type(export_format)
