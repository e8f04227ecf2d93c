"""Rendering: the subject, plain-text and HTML bodies and the attachment of each mail, from the
templates in templates/emails/ (a .txt and a .html per mail)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from dashboard.base_url import external_base_url
from dashboard.core.failure_words import failure_words
from dashboard.core.labels import TRIGGER_LABELS
from dashboard.delivery import mailer
from dashboard.delivery.display import (
    FORMAT_LABELS,
    TYPE_LABELS,
    local_date,
    local_time,
    period,
    size_display,
)
from dashboard.delivery.files import RunFile, files_of
from dashboard.delivery.policy import attachment_limit_bytes, encoded_size
from dashboard.delivery.recipients import audiences
from dashboard.exports.comparison import comparison_display
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
    attachments: list[dict] = field(default_factory=list)  # {"path", "name", "content_type", "size"}
    extra: dict = field(default_factory=dict)

    def payload(self, position: int) -> dict:
        return {
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "from_name": self.from_name,
            "reply_to": self.reply_to,
            "attachments": self.attachments,
            "position": position,
            **self.extra,
        }


def by_audience(
    business_id: uuid.UUID, render: Callable[[bool], MailContent]
) -> Callable[[str], MailContent]:
    """recipient -> their mail: rendered once for members of the business and once for people
    outside it (no dashboard link), only when somebody of that audience receives it."""
    is_member = audiences(business_id)
    rendered: dict[bool, MailContent] = {}

    def content_for(recipient: str) -> MailContent:
        member = is_member(recipient)
        if member not in rendered:
            rendered[member] = render(member)
        return rendered[member]

    return content_for


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


def base_context(business: Business, settings: ExportNotificationSettings, member: bool = True) -> dict:
    """What every mail shows. `member`: the recipient belongs to the business; someone outside it
    (an accountant, a supplier) cannot sign in, so their mail has no "Open the dashboard" link."""
    return {
        "business_name": business.name,
        "dashboard_url": f"{external_base_url()}/" if member else "",
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


def _started_by(history: ExportHistory) -> str:
    """Who started a run that was not the schedule's own ("run now by Jane Doe"); "" for a
    scheduled run. A test send says so."""
    if history.is_test:
        how = "sent as a test"
    elif history.trigger == "SCHEDULED":
        return ""
    elif history.trigger == "API":
        how = "started through the API"
    else:
        how = "run now" if history.schedule_id else "started"
    user = history.user
    who = (user.name or user.email) if user is not None else ""
    return f"{how} by {who}" if who else how


def _file_context(history: ExportHistory) -> dict:
    business = history.business
    when = history.completed_at or history.created_at
    context = {
        "is_test": bool(history.is_test),
        "started_by": _started_by(history),
        "scheduled": history.trigger == "SCHEDULED" and not history.is_test,
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
        "comparison": comparison_display(history.summary),
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


def _marked(history: ExportHistory, subject: str) -> str:
    """A test send says so first in its subject (contract section 6)."""
    return f"[Test] {subject}" if history.is_test else subject


def _link_only_reason(files: Sequence[RunFile], limit: int) -> str:
    """Why the files travel as links: their encoded sizes, summed, are over the limit."""
    size = sum(f.file_size for f in files)
    encoded = sum(encoded_size(f.file_size) for f in files)
    if len(files) == 1:
        return (
            f"The file is {size_display(size)} ({size_display(encoded)} once encoded for "
            f"e-mail), more than the {size_display(limit)} that mail attachments may take, so it is "
            "not attached: download it with the link below."
        )
    return (
        f"The {len(files)} files take {size_display(size)} together ({size_display(encoded)} once "
        f"encoded for e-mail), more than the {size_display(limit)} that mail attachments may take, so "
        "they are not attached: download them with the links below."
    )


def render_export_mail(
    history: ExportHistory,
    settings: ExportNotificationSettings,
    member: bool = True,
    files: Sequence[RunFile] | None = None,
) -> MailContent:
    """The export mail: every file of the run attached, or every one linked when their encoded
    sizes together exceed MAIL_MAX_ATTACHMENT_MB (one mail either way)."""
    business = history.business
    files = files_of(history) if files is None else list(files)
    context = {**base_context(business, settings, member), **_file_context(history)}
    schedule = history.schedule
    context["custom_message"] = (schedule.email_message or "").strip() if schedule else ""
    # Password-protected files (issue 19): the mail says so, never the password.
    context["protected"] = bool(schedule is not None and getattr(schedule, "file_password", ""))
    limit = attachment_limit_bytes()
    attach = bool(files) and sum(encoded_size(f.file_size) for f in files) <= limit
    context["attached"] = attach
    context["link_only_reason"] = _link_only_reason(files, limit) if files and not attach else ""
    context["files"] = [
        {
            "name": f.file_name,
            "format_label": FORMAT_LABELS.get(f.format, f.format.upper()),
            "size_display": size_display(f.file_size),
        }
        for f in files
    ]
    subject = (schedule.email_subject if schedule and schedule.email_subject else "") or _default_subject(
        history, context
    )
    subject = _marked(history, subject)
    text, html = render_template("export_success", **context)
    attachments = [
        {"path": f.path, "name": f.file_name, "content_type": f.content_type, "size": f.file_size}
        for f in (files if attach else [])
    ]
    return _content(subject, text, html, business, settings, attachments=attachments)


def _next_run_note(history: ExportHistory, final: bool = False) -> tuple[str, str]:
    """(next run in the business's timezone, or "", and a sentence about what happens next)."""
    business = history.business
    retry = ""
    if history.next_retry_at is not None:  # the runner set it: a scheduled run within its retries
        retry = f"It will be retried automatically at {local_time(history.next_retry_at, business)}. "
    elif final:
        retry = f"It failed {history.attempt} times in a row: it will not be retried automatically again. "
    schedule = history.schedule
    if schedule is None:
        if history.schedule_id is None and not history.schedule_name:
            return "", retry + "This was a one-off export: start it again from the dashboard when ready."
        return "", retry + "Its schedule has been deleted, so it will not run again."
    if not schedule.is_active or schedule.next_run_at is None:
        return "", retry + "The schedule is inactive: it will not run again until it is activated."
    return local_time(schedule.next_run_at, business), retry.strip()


def render_failure_alert(
    history: ExportHistory, settings: ExportNotificationSettings, member: bool = True, final: bool = False
) -> MailContent:
    """The failure alert; `final`: the last of a run's automatic retries failed too."""
    business = history.business
    context = {**base_context(business, settings, member), **_file_context(history)}
    next_run, next_note = _next_run_note(history, final)
    words = failure_words(history.failure_category)  # by the stored category, never the message
    context.update(
        failed_at=local_time(history.completed_at or history.created_at, business),
        plain_error=words.what,
        technical_error=(history.error_message or "").strip()[:600],
        steps=list(words.advice),
        next_run=next_run,
        next_note=next_note,
        attempt=history.attempt or 1,
        final=final,
    )
    name = context["schedule_name"] or f"{context['type_label']} export"
    if final:
        subject = f"Export still failing after {history.attempt} attempts: {name} ({context['format_label']})"
        subject += f" — {business.name}"
    else:
        subject = f"Export failed: {name} ({context['format_label']}) — {business.name}"
    text, html = render_template("export_failure", **context)
    subject = _marked(history, subject)
    return _content(subject, text, html, business, settings)


def render_success_notice(
    history: ExportHistory, settings: ExportNotificationSettings, export_to: list[str], member: bool = True
) -> MailContent:
    business = history.business
    context = {**base_context(business, settings, member), **_file_context(history)}
    context["export_to"] = export_to
    context["emailed_count"] = len(export_to)
    schedule = history.schedule
    context["skipped_empty"] = bool(
        not export_to and history.record_count == 0 and schedule is not None and schedule.skip_if_empty
    )
    name = context["schedule_name"] or f"{context['type_label']} export"
    subject = _marked(history, f"Export completed: {name} ({context['format_label']}) — {business.name}")
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
