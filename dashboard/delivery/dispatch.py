"""What the runner and the scheduler call: deliver a finished run on every channel it uses, pass
over the outbox, and pick up runs that finished without their deliveries (a crash)."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from dashboard.delivery import outbox
from dashboard.delivery.channels import Channel, DeliveryResult, get_channel, send_due
from dashboard.delivery.files import files_of
from dashboard.extensions import db
from dashboard.models.automation import STATUS_COMPLETED, STATUS_FAILED, ExportHistory, MailMessage
from dashboard.models.types import utcnow

log = logging.getLogger(__name__)


def channels_for(run: ExportHistory) -> list[tuple[Channel, dict | None, int]]:
    """(channel, destination, index) for each way the run is delivered: e-mail always, then each
    of its schedule's destinations (a destination whose kind has no channel is logged, skipped).
    None for a run its schedule's conditions stopped (`skipped_reason`): it sends nothing."""
    if getattr(run, "skipped_reason", ""):
        return []
    found: list[tuple[Channel, dict | None, int]] = [(get_channel("email"), None, 0)]
    schedule = run.schedule
    for index, destination in enumerate(getattr(schedule, "destinations", None) or []):
        kind = destination.get("kind") if isinstance(destination, dict) else None
        try:
            found.append((get_channel(str(kind)), destination, index))
        except KeyError:
            log.error("Run %s: destination %s has no delivery channel %r", run.id, index, kind)
    return found


def deliver_run(run: ExportHistory) -> list[DeliveryResult]:
    """Deliver a finished run on each of its channels; one channel's failure never stops another."""
    files = files_of(run)
    results = []
    for channel, destination, index in channels_for(run):
        try:
            results.append(channel.deliver(run, files, destination, index))
        except Exception:
            log.exception("%s delivery of run %s failed; the outbox will retry", channel.kind, run.id)
            db.session.rollback()
    return results


def deliver_run_result(history_id: uuid.UUID) -> None:
    """Called by the runner once a run's final state is committed: queue and send its deliveries.

    Never raises: a delivery problem must not fail a finished export. What could not be sent stays
    in the outbox for `process_outbox`."""
    try:
        history = db.session.get(ExportHistory, history_id, populate_existing=True)
        if history is None:
            return
        deliver_run(history)
    except Exception:
        log.exception("Mail delivery for export %s failed; the outbox will retry", history_id)
        db.session.rollback()


def queue_run(run: ExportHistory, now: datetime | None = None) -> int:
    """Queue (not send) every delivery of a finished run on each of its channels. Idempotent."""
    files = files_of(run)
    return sum(
        channel.queue(run, files, destination, index, now)
        for channel, destination, index in channels_for(run)
    )


# Runs that need no delivery are looked at once per process, not at every poll.
_recovery_seen: set[uuid.UUID] = set()


def recover_undelivered(now: datetime) -> int:
    """Queue deliveries for runs that finished without any (a crash between the runner's commit
    and its call to deliver_run_result). Looks at the last six hours, leaving the runner two minutes."""
    window_start, window_end = now - timedelta(hours=6), now - timedelta(minutes=2)
    histories = db.session.scalars(
        select(ExportHistory)
        .where(
            ExportHistory.status.in_((STATUS_COMPLETED, STATUS_FAILED)),
            ExportHistory.completed_at >= window_start,
            ExportHistory.completed_at <= window_end,
            ExportHistory.started_at.is_not(None),
            ~exists().where(MailMessage.history_id == ExportHistory.id),
        )
        .order_by(ExportHistory.completed_at)
        .limit(200)
    ).all()
    queued = 0
    for history in histories:
        if history.id in _recovery_seen:
            continue
        if len(_recovery_seen) > 50_000:
            _recovery_seen.clear()
        _recovery_seen.add(history.id)
        try:
            queued += queue_run(history, now=now)
        except Exception:
            log.exception("Could not queue mails for export %s", history.id)
            db.session.rollback()
    return queued


def process_outbox(now: datetime | None = None) -> dict:
    """One pass over the outbox (every scheduler poll): send what is due, retry what failed for a
    transient reason, pick up rows whose `sending` lease ended. Returns counts."""
    now = now or utcnow()
    stats: Counter = Counter()
    try:
        stats["recovered"] = recover_undelivered(now)
    except Exception:
        log.exception("Recovering undelivered run mails failed")
        db.session.rollback()
    stats.update(send_due(outbox.pending_ids(now), now))
    summary = {
        key: int(stats.get(key, 0)) for key in ("sent", "retry", "failed", "uncertain", "deferred", "held")
    }
    summary["recovered"] = int(stats.get("recovered", 0))
    summary["skipped"] = int(stats.get("skipped", 0))
    if any(summary.values()):
        log.info("Mail outbox: %s", summary)
    return summary
