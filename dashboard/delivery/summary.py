"""The weekly summary: each business's past seven days of exports, once per ISO week from Sunday
08:00 in its timezone, to the notification settings' default recipients or its owners."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select

from dashboard.delivery import mailer, outbox
from dashboard.delivery.display import (
    FORMAT_LABELS,
    TYPE_LABELS,
    local_date,
    local_time,
    plain_error,
    size_display,
    zone,
)
from dashboard.delivery.email_sending import send_rows
from dashboard.delivery.outbox import KIND_SUMMARY
from dashboard.delivery.recipients import summary_recipients
from dashboard.delivery.render import MailContent, base_context, from_name, render_template
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
    """The past period's figures for one business."""
    rows = db.session.execute(
        select(
            ExportHistory.export_type,
            ExportHistory.status,
            func.count(ExportHistory.id),
            func.coalesce(func.sum(ExportHistory.record_count), 0),
            func.coalesce(func.sum(ExportHistory.file_size), 0),
        )
        .where(
            ExportHistory.business_id == business.id,
            ExportHistory.created_at >= start,
            ExportHistory.created_at < end,
        )
        .group_by(ExportHistory.export_type, ExportHistory.status)
    ).all()
    by_type: dict[str, dict] = {}
    totals = Counter()
    for export_type, status, count, records, size in rows:
        entry = by_type.setdefault(
            export_type,
            {"label": TYPE_LABELS.get(export_type, export_type), "total": 0, "successful": 0, "failed": 0},
        )
        entry["total"] += count
        totals["total"] += count
        if status in SUCCESS_STATUSES:
            entry["successful"] += count
            totals["successful"] += count
            totals["records"] += int(records or 0)
            totals["bytes"] += int(size or 0)
        elif status == STATUS_FAILED:
            entry["failed"] += count
            totals["failed"] += count
        if status == STATUS_EMAILED:
            totals["emailed"] += count
    finished = totals["successful"] + totals["failed"]
    success_rate = round(100 * totals["successful"] / finished, 1) if finished else None
    failures = db.session.scalars(
        select(ExportHistory)
        .where(
            ExportHistory.business_id == business.id,
            ExportHistory.status == STATUS_FAILED,
            ExportHistory.created_at >= start,
            ExportHistory.created_at < end,
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
        "emailed": totals["emailed"],
        "in_progress": totals["total"] - finished,
        "success_rate": success_rate,
        "success_rate_display": "—" if success_rate is None else f"{success_rate:g}%",
        "records_display": f"{totals['records']:,}",
        "volume_display": size_display(totals["bytes"]),
        "by_type": [by_type[k] for k in sorted(by_type, key=lambda k: TYPE_LABELS.get(k, k))],
        "failures": [
            {
                "when": local_time(f.created_at, business, weekday=True),
                "name": f.schedule_name or f"{TYPE_LABELS.get(f.export_type, f.export_type)} export",
                "format_label": FORMAT_LABELS.get(f.format, f.format),
                "error": plain_error(f.error_message),
            }
            for f in failures
        ],
        "more_failures": max(0, totals["failed"] - len(failures)),
        "active_schedules": int(active or 0),
    }


def render_weekly_summary(
    business: Business, settings: ExportNotificationSettings, start: datetime, end: datetime
) -> MailContent:
    figures = summary_figures(business, start, end)
    period = f"{local_date(start, business)} – {local_date(end, business)}"
    context = {
        **base_context(business, settings),
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
            content = render_weekly_summary(business, settings, start, now)
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
