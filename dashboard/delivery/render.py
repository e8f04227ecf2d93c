"""Rendering: the subject, plain-text and HTML bodies and the attachment of each mail, from the
templates in templates/emails/ (a .txt and a .html per mail)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from dashboard.base_url import external_base_url
from dashboard.core.labels import TRIGGER_LABELS, content_type
from dashboard.delivery import mailer
from dashboard.delivery.display import (
    FORMAT_LABELS,
    TROUBLESHOOTING_STEPS,
    TYPE_LABELS,
    local_date,
    local_time,
    period,
    plain_error,
    size_display,
)
from dashboard.delivery.policy import attachment_limit_bytes, encoded_size
from dashboard.exports.periods import period_label
from dashboard.models.automation import ExportHistory, ExportNotificationSettings
from dashboard.models.pos import Business
from dashboard.models.types import utcnow
from dashboard.storage.links import link_expires_at, make_download_url


@dataclass
class MailContent:
    """One mail's content, rendered once and queued for each of its recipients."""

    subject: str
    text: str
    html: str
    from_name: str
    reply_to: str = ""
    attachment: dict | None = None  # {"path", "name", "content_type", "size"}
    extra: dict = field(default_factory=dict)

    def payload(self, position: int) -> dict:
        return {
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "from_name": self.from_name,
            "reply_to": self.reply_to,
            "attachment": self.attachment,
            "position": position,
            **self.extra,
        }


def render_template(name: str, **context) -> tuple[str, str]:
    # The app's Jinja environment directly: no request context is needed (the scheduler thread has
    # none), the layout's context processors stay out, and .html templates are autoescaped.
    env = current_app.jinja_env
    html = env.get_template(f"emails/{name}.html").render(**context)
    text = env.get_template(f"emails/{name}.txt").render(**context)
    # Template logic leaves runs of blank lines in plain text; one blank line between blocks.
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text, html


def base_context(business: Business, settings: ExportNotificationSettings) -> dict:
    base_url = external_base_url()
    return {
        "business_name": business.name,
        "dashboard_url": f"{base_url}/",
        "from_name": from_name(business, settings),
    }


def from_name(business: Business, settings: ExportNotificationSettings) -> str:
    return mailer.clean_header(settings.from_name or business.name, 120) or "Export Automation"


def _content(subject: str, text: str, html: str, business: Business, settings, **more) -> MailContent:
    return MailContent(
        subject=mailer.clean_header(subject, 255),
        text=text,
        html=html,
        from_name=from_name(business, settings),
        reply_to=settings.reply_to_email or "",
        **more,
    )


def _file_context(history: ExportHistory) -> dict:
    business = history.business
    when = history.completed_at or history.created_at
    context = {
        "type_label": TYPE_LABELS.get(history.export_type, history.export_type.title()),
        "format_label": FORMAT_LABELS.get(history.format, history.format.upper()),
        "schedule_name": history.schedule_name or (history.schedule.name if history.schedule else ""),
        "record_count": history.record_count or 0,
        "record_count_display": f"{history.record_count or 0:,}",
        "total_records_display": f"{history.total_records:,}" if history.total_records else "",
        "truncated": bool(history.truncated and history.total_records),
        "file_name": history.file_name,
        "file_size_display": size_display(history.file_size),
        "generated_at": local_time(when, business),
        "period": period(history.filters_applied),
        "trigger_label": TRIGGER_LABELS.get(history.trigger, history.trigger.title()),
        "has_file": history.is_downloadable,
        "download_url": "",
        "link_expires": "",
    }
    if history.is_downloadable:
        issued = utcnow()
        context["download_url"] = make_download_url(history, issued)
        context["link_expires"] = local_date(link_expires_at(issued), business)
    return context


def _default_subject(history: ExportHistory, labels: dict) -> str:
    # The data's period (CONTRACT section 6), else the run's date; the schedule's name first.
    when = period_label(history.filters_applied) or local_date(
        history.completed_at or history.created_at, history.business
    )
    named = f"{labels['schedule_name']} — " if labels.get("schedule_name") else ""
    return (
        f"{named}{labels['type_label']} export ({labels['format_label']}) — {history.business.name} — {when}"
    )


def render_export_mail(history: ExportHistory, settings: ExportNotificationSettings) -> MailContent:
    business = history.business
    context = {**base_context(business, settings), **_file_context(history)}
    schedule = history.schedule
    context["custom_message"] = (schedule.email_message or "").strip() if schedule else ""
    # Password-protected files (issue 19): the mail says so, never the password.
    context["protected"] = bool(schedule is not None and getattr(schedule, "file_password", ""))
    limit = attachment_limit_bytes()
    size = int(history.file_size or 0)
    attach = history.is_downloadable and encoded_size(size) <= limit
    context["attached"] = attach
    context["link_only_reason"] = ""
    if history.is_downloadable and not attach:
        context["link_only_reason"] = (
            f"The file is {size_display(size)} ({size_display(encoded_size(size))} once encoded for "
            f"e-mail), more than the {size_display(limit)} that mail attachments may take, so it is "
            "not attached: download it with the link below."
        )
    subject = (schedule.email_subject if schedule and schedule.email_subject else "") or _default_subject(
        history, context
    )
    text, html = render_template("export_success", **context)
    attachment = None
    if attach:
        attachment = {
            "path": history.file_path,
            "name": history.file_name,
            "content_type": "application/zip"
            if (history.file_name or "").endswith(".zip")  # a protected file (issue 19)
            else content_type(history.format),
            "size": size,
        }
    return _content(subject, text, html, business, settings, attachment=attachment)


def _next_run_note(history: ExportHistory) -> tuple[str, str]:
    """(next run in the business's timezone, or "", and a sentence about what happens next)."""
    business = history.business
    retry = ""
    if history.next_retry_at is not None:  # the runner set it: a scheduled run within its retries
        retry = f"It will be retried automatically at {local_time(history.next_retry_at, business)}. "
    schedule = history.schedule
    if schedule is None:
        if history.schedule_id is None and not history.schedule_name:
            return "", retry + "This was a one-off export: start it again from the dashboard when ready."
        return "", retry + "Its schedule has been deleted, so it will not run again."
    if not schedule.is_active or schedule.next_run_at is None:
        return "", retry + "The schedule is inactive: it will not run again until it is activated."
    return local_time(schedule.next_run_at, business), retry.strip()


def render_failure_alert(history: ExportHistory, settings: ExportNotificationSettings) -> MailContent:
    business = history.business
    context = {**base_context(business, settings), **_file_context(history)}
    next_run, next_note = _next_run_note(history)
    context.update(
        failed_at=local_time(history.completed_at or history.created_at, business),
        plain_error=plain_error(history.error_message),
        technical_error=(history.error_message or "").strip()[:600],
        steps=TROUBLESHOOTING_STEPS,
        next_run=next_run,
        next_note=next_note,
        attempt=history.attempt or 1,
    )
    name = context["schedule_name"] or f"{context['type_label']} export"
    subject = f"Export failed: {name} ({context['format_label']}) — {business.name}"
    text, html = render_template("export_failure", **context)
    return _content(subject, text, html, business, settings)


def render_success_notice(
    history: ExportHistory, settings: ExportNotificationSettings, export_to: list[str]
) -> MailContent:
    business = history.business
    context = {**base_context(business, settings), **_file_context(history)}
    context["export_to"] = export_to
    context["emailed_count"] = len(export_to)
    schedule = history.schedule
    context["skipped_empty"] = bool(
        not export_to and history.record_count == 0 and schedule is not None and schedule.skip_if_empty
    )
    name = context["schedule_name"] or f"{context['type_label']} export"
    subject = f"Export completed: {name} ({context['format_label']}) — {business.name}"
    text, html = render_template("success_notice", **context)
    return _content(subject, text, html, business, settings)


def render_quota_notice(
    business: Business, settings: ExportNotificationSettings, limit: int, held: int, until: datetime
) -> MailContent:
    context = {
        **base_context(business, settings),
        "limit": limit,
        "held": held,
        "until": local_time(until, business),
    }
    text, html = render_template("quota_notice", **context)
    subject = f"E-mail held: {business.name} reached its daily limit of {limit} e-mails"
    return _content(subject, text, html, business, settings)
