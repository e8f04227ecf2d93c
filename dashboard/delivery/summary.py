"""The weekly summary: each business's past seven days of exports, once per ISO week from Sunday
08:00 in its timezone, to the notification settings' default recipients or its owners."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial

from flask import current_app
from sqlalchemy import case, func, or_, select

from dashboard.core.failure_words import failure_words
from dashboard.delivery import mailer, outbox
from dashboard.delivery.display import (
    FORMAT_LABELS,
    TYPE_LABELS,
    local_date,
    local_time,
    size_display,
    zone,
)
from dashboard.delivery.email_sending import send_rows
from dashboard.delivery.outbox import KIND_SUMMARY
from dashboard.delivery.recipients import summary_recipients
from dashboard.delivery.render import MailContent, base_context, by_audience, from_name, render_template
from dashboard.extensions import db
from dashboard.models.automation import (
    STATUS_EMAILED,
    STATUS_FAILED,
    SUCCESS_STATUSES,
    ExportHistory,
    ExportNotificationSettings,
    ExportSchedule,
    MailMessage,
    get_settings,
)
from dashboard.models.pos import Business
from dashboard.models.types import utcnow

log = logging.getLogger(__name__)

SUMMARY_WEEKDAY = 6  # Sunday
SUMMARY_HOUR = 8  # 08:00 in the business's timezone


def _iso_week(local: datetime) -> str:
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def summary_figures(business: Business, start: datetime, end: datetime) -> dict:
    """The past period's figures for one business: the counts and success rate are the statistics
    service's (`since=start`, the same rules as the statistics page; that service sits above
    delivery, so create_app hands it over as app.extensions["run_statistics"]); what it does not
    count (runs mailed, records and bytes exported, the failures themselves) is read here."""
    figures = current_app.extensions["run_statistics"](business, now=end, since=start)
    totals = {
        "total": figures["total_exports"],
        "successful": figures["successful_exports"],
        "failed": figures["failed_exports"],
    }
    by_type = {
        export_type: {"label": TYPE_LABELS.get(export_type, export_type), **counts}
        for export_type, counts in figures["by_type"].items()
        if counts["total"]
    }
    successful = ExportHistory.status.in_(SUCCESS_STATUSES)
    emailed, records, volume = db.session.execute(
        select(
            func.sum(case((ExportHistory.status == STATUS_EMAILED, 1), else_=0)),
            func.sum(case((successful, ExportHistory.record_count), else_=0)),
            func.sum(case((successful, ExportHistory.file_size), else_=0)),
        ).where(ExportHistory.business_id == business.id, ExportHistory.created_at >= start)
    ).one()
    finished = totals["successful"] + totals["failed"]
    success_rate = figures["success_rate"]
    failures = db.session.scalars(
        select(ExportHistory)
        .where(
            ExportHistory.business_id == business.id,
            ExportHistory.status == STATUS_FAILED,
            ExportHistory.created_at >= start,
        )
        .order_by(ExportHistory.created_at.desc())
        .limit(10)
    ).all()
    active = db.session.scalar(
        select(func.count(ExportSchedule.id)).where(
            ExportSchedule.business_id == business.id, ExportSchedule.is_active.is_(True)
        )
    )
    return {
        "total": totals["total"],
        "successful": totals["successful"],
        "failed": totals["failed"],
        "emailed": int(emailed or 0),
        "in_progress": totals["total"] - finished,
        "success_rate": success_rate,
        "success_rate_display": "—" if success_rate is None else f"{success_rate:g}%",
        "records_display": f"{int(records or 0):,}",
        "volume_display": size_display(int(volume or 0)),
        "by_type": [by_type[k] for k in sorted(by_type, key=lambda k: TYPE_LABELS.get(k, k))],
        "failures": [
            {
                "when": local_time(f.created_at, business, weekday=True),
                "name": f.schedule_name or f"{TYPE_LABELS.get(f.export_type, f.export_type)} export",
                "format_label": FORMAT_LABELS.get(f.format, f.format),
                "error": failure_words(f.failure_category).what,
            }
            for f in failures
        ],
        "more_failures": max(0, totals["failed"] - len(failures)),
        "active_schedules": int(active or 0),
    }


def render_weekly_summary(
    business: Business,
    settings: ExportNotificationSettings,
    start: datetime,
    end: datetime,
    member: bool = True,
    figures: dict | None = None,
) -> MailContent:
    figures = figures if figures is not None else summary_figures(business, start, end)
    period = f"{local_date(start, business)} – {local_date(end, business)}"
    context = {
        **base_context(business, settings, member),
        **figures,
        "period": period,
        "period_detail": f"{local_time(start, business)} to {local_time(end, business)}",
    }
    subject = f"Weekly export summary — {business.name} — {period}"
    text, html = render_template("weekly_summary", **context)
    return MailContent(
        subject=mailer.clean_header(subject, 255),
        text=text,
        html=html,
        from_name=from_name(business, settings),
        reply_to=settings.reply_to_email or "",
        extra={"figures": {k: figures[k] for k in ("total", "successful", "failed", "emailed")}},
    )


def _summary_businesses(start: datetime, end: datetime) -> list[Business]:
    """Businesses with export schedules, or with export runs in the period."""
    with_schedules = select(ExportSchedule.business_id)
    with_runs = select(ExportHistory.business_id).where(
        ExportHistory.created_at >= start, ExportHistory.created_at < end
    )
    return list(
        db.session.scalars(
            select(Business)
            .where(or_(Business.id.in_(with_schedules), Business.id.in_(with_runs)))
            .order_by(Business.name)
        )
    )


def send_export_summary_report(now: datetime | None = None, force: bool = False) -> dict:
    """Hourly: each business gets the past 7 days' summary once per ISO week, from Sunday 08:00 in its
    timezone (a later pass that Sunday catches up after downtime). `force` sends it now, whatever the day."""
    now = now or utcnow()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    start = now - timedelta(days=7)
    stats = Counter()
    for business in _summary_businesses(start, now):
        stats["businesses_checked"] += 1
        local = now.astimezone(zone(business))
        week = _iso_week(local)
        if force:
            key_parts: tuple = ("summary-forced", business.id, now.strftime("%Y%m%dT%H%M%S"))
        else:
            if local.weekday() != SUMMARY_WEEKDAY or local.hour < SUMMARY_HOUR:
                stats["not_due"] += 1
                continue
            prefix = f"{KIND_SUMMARY}:{business.id}:{week}:"
            already = db.session.scalar(
                select(func.count(MailMessage.id)).where(
                    MailMessage.dedupe_key.startswith(prefix, autoescape=True)
                )
            )
            if already:
                stats["already_sent"] += 1
                continue
            key_parts = (KIND_SUMMARY, business.id, week)
        try:
            settings = get_settings(business)
            recipients = summary_recipients(business, settings)
            if not recipients:
                stats["no_recipients"] += 1
                continue
            figures = summary_figures(business, start, now)
            render = partial(render_weekly_summary, business, settings, start, now, figures=figures)
            content = by_audience(business.id, lambda member, render=render: render(member=member))
            new = outbox.enqueue(
                business_id=business.id,
                history_id=None,
                kind=KIND_SUMMARY,
                recipients=recipients,
                content=content,
                key_parts=key_parts,
                now=now,
            )
            db.session.commit()
        except Exception:
            log.exception("Could not prepare the weekly summary of %s", business.name)
            db.session.rollback()
            stats["errors"] += 1
            continue
        if new:
            stats["summaries"] += 1
            stats["messages"] += new
            sent = send_rows(outbox.pending_with_prefix(key_parts), now)
            stats["sent"] += sent.get("sent", 0)
    result = {
        key: int(stats.get(key, 0))
        for key in (
            "businesses_checked",
            "summaries",
            "messages",
            "sent",
            "already_sent",
            "not_due",
            "no_recipients",
            "errors",
        )
    }
    log.info("Weekly summaries: %s", result)
    return result
