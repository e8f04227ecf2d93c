"""The destination outbox: after a run finishes, one row per destination of its schedule; each
row is claimed before an attempt, retried with exponential backoff when the failure may pass,
and never sent again once a 2xx (or an upload) succeeded. The receiver sees the same
`Idempotency-Key` on every attempt, so a delivery it got but we could not confirm (a timeout)
is recognisable as a repeat."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update

from dashboard.automation.links import make_download_url
from dashboard.automation.storage import get_storage
from dashboard.destinations.channels import SendContext, get_channel
from dashboard.destinations.content import DeliveryContent, FileLink
from dashboard.destinations.errors import DestinationError, SecretUnreadable
from dashboard.exports.filters import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.extensions import db
from dashboard.models.automation import SUCCESS_STATUSES, ExportHistory
from dashboard.models.destinations import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENDING,
    DestinationDelivery,
)
from dashboard.models.types import utcnow
from dashboard.services.destinations import outbound_policy, plain_config, secret_box, target_of

log = logging.getLogger(__name__)


def _setting(name: str, default: float) -> float:
    return float(current_app.config.get(name) or default)


def backoff(attempts: int) -> timedelta:
    base = _setting("DESTINATIONS_RETRY_BASE_SECONDS", 60)
    cap = _setting("DESTINATIONS_RETRY_MAX_SECONDS", 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _lease() -> timedelta:
    # Longer than any one attempt can take (an SFTP upload of several files may take a while).
    return timedelta(seconds=max(300.0, 20 * _setting("DESTINATIONS_TIMEOUT_SECONDS", 10)))


def enqueue_run_destinations(history: ExportHistory, now: datetime | None = None) -> int:
    """Queue one delivery per destination of the run's schedule (a finished, successful run with
    a file); a second call for the same run queues nothing more."""
    schedule = history.schedule
    if history.status not in SUCCESS_STATUSES or schedule is None or not schedule.destinations:
        return 0
    if not history.file_path:
        return 0
    existing = set(
        db.session.scalars(
            select(DestinationDelivery.position).where(DestinationDelivery.history_id == history.id)
        )
    )
    now = now or utcnow()
    added = 0
    for position, destination in enumerate(schedule.destinations):
        if position in existing:
            continue
        db.session.add(
            DestinationDelivery(
                business_id=history.business_id,
                history_id=history.id,
                position=position,
                kind=destination["kind"],
                target=target_of(destination)[:500],
                destination=dict(destination),
                status=DELIVERY_PENDING,
                next_attempt_at=now,
            )
        )
        added += 1
    if added:
        try:
            db.session.commit()
        except Exception:  # another worker queued them first (unique run + position)
            db.session.rollback()
            return 0
    return added


def _due(now: datetime):
    return or_(
        and_(DestinationDelivery.status == DELIVERY_PENDING, DestinationDelivery.next_attempt_at <= now),
        and_(DestinationDelivery.status == DELIVERY_SENDING, DestinationDelivery.lease_until < now),
    )


def _claim(row_id: uuid.UUID, now: datetime) -> int | None:
    """Take the row for one attempt; the attempt number, or None when another worker has it or it
    is no longer due (delivered meanwhile)."""
    row = db.session.get(DestinationDelivery, row_id, populate_existing=True)
    if row is None:
        return None
    attempt = (row.attempts or 0) + 1
    result = db.session.execute(
        update(DestinationDelivery)
        .where(DestinationDelivery.id == row_id, DestinationDelivery.attempts == row.attempts, _due(now))
        .values(status=DELIVERY_SENDING, attempts=attempt, lease_until=now + _lease())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return attempt if result.rowcount == 1 else None


def _finish(row_id: uuid.UUID, attempt: int, **values: Any) -> None:
    # Only the worker holding this attempt may write its outcome.
    db.session.execute(
        update(DestinationDelivery)
        .where(DestinationDelivery.id == row_id, DestinationDelivery.attempts == attempt)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _opener(path: str):
    def open_file():
        return contextlib.closing(get_storage().open(path))

    return open_file


def run_files(history: ExportHistory) -> tuple[FileLink, ...]:
    """The run's files with their signed links (absolute) and a way to read each."""
    url = make_download_url(history)
    return (
        FileLink(history.format, history.file_name, history.file_size or 0, url, _opener(history.file_path)),
    )


def content_for(history: ExportHistory) -> DeliveryContent:
    from dashboard.services.presenters import history_to_dict

    files = run_files(history)
    run = history_to_dict(history)
    run["files"] = [link.as_json() for link in files]
    run["download_url"] = files[0].download_url if files else None
    schedule = history.schedule
    filters = history.filters_applied or {}
    start, end = filters.get("start_date"), filters.get("end_date")
    period = (start if start == end else f"{start} to {end}") if start and end else None
    label = EXPORT_TYPE_LABELS.get(history.export_type, history.export_type)
    return DeliveryContent(
        run=run,
        files=files,
        business_name=history.business.name,
        schedule_name=history.schedule_name or (schedule.name if schedule else ""),
        title=f"{label} export ({FORMAT_LABELS.get(history.format, history.format)})",
        period=period,
        record_count=history.record_count,
        protected=bool(schedule is not None and schedule.file_password),
    )


def _max_attempts() -> int:
    return int(_setting("DESTINATIONS_MAX_ATTEMPTS", 6))


def deliver_row(row_id: uuid.UUID, now: datetime | None = None, content_cache: dict | None = None) -> str:
    """One attempt at one row: "delivered", "retry", "failed" or "skipped" (not ours to send)."""
    now = now or utcnow()
    attempt = _claim(row_id, now)
    if attempt is None:
        return "skipped"
    row = db.session.get(DestinationDelivery, row_id)
    cache = content_cache if content_cache is not None else {}
    try:
        if row.history_id not in cache:
            history = db.session.get(ExportHistory, row.history_id)
            if history is None or not history.file_path:
                raise DestinationError("The run's file is no longer stored.")
            cache[row.history_id] = content_for(history)
        config = plain_config(row.destination, secret_box())
        get_channel(row.kind).deliver(
            cache[row.history_id],
            config,
            SendContext(outbound_policy(), f"{row.history_id}:{row.position}"),
        )
    except (DestinationError, SecretUnreadable) as exc:
        message = exc.message if isinstance(exc, DestinationError) else str(exc)
        retryable = isinstance(exc, DestinationError) and exc.retryable and attempt < _max_attempts()
        if retryable:
            _finish(
                row_id,
                attempt,
                status=DELIVERY_PENDING,
                last_error=message,
                next_attempt_at=now + backoff(attempt),
            )
            return "retry"
        _finish(row_id, attempt, status=DELIVERY_FAILED, last_error=message, next_attempt_at=None)
        return "failed"
    except Exception:
        log.exception("Destination delivery %s failed unexpectedly", row_id)
        db.session.rollback()
        _finish(
            row_id,
            attempt,
            status=DELIVERY_PENDING,
            last_error="An unexpected error; it will be retried.",
            next_attempt_at=now + backoff(attempt),
        )
        return "retry"
    _finish(
        row_id, attempt, status=DELIVERY_DELIVERED, last_error="", delivered_at=utcnow(), next_attempt_at=None
    )
    return "delivered"


def deliver_due(
    now: datetime | None = None, history_id: uuid.UUID | None = None, limit: int = 200
) -> Counter:
    now = now or utcnow()
    query = select(DestinationDelivery.id).where(_due(now))
    if history_id is not None:
        query = query.where(DestinationDelivery.history_id == history_id)
    ids = list(db.session.scalars(query.order_by(DestinationDelivery.created_at).limit(limit)))
    db.session.rollback()
    outcomes: Counter = Counter()
    cache: dict = {}
    for row_id in ids:
        outcomes[deliver_row(row_id, now, cache)] += 1
    return outcomes


def deliver_run(history_id: uuid.UUID) -> None:
    """After a run finished: queue its destinations and try each once now. Never raises: a
    destination's problem does not fail a finished export (the outbox retries)."""
    try:
        history = db.session.get(ExportHistory, history_id, populate_existing=True)
        if history is None:
            return
        if enqueue_run_destinations(history):
            deliver_due(history_id=history_id)
    except Exception:
        log.exception("Destination delivery for export %s failed; the outbox will retry", history_id)
        db.session.rollback()


def destination_delivery(history_id: uuid.UUID) -> list[dict[str, Any]]:
    """The run's `destination_delivery` (contract section 6), in the schedule's order."""
    return destination_deliveries_for([history_id]).get(history_id, [])


def destination_deliveries_for(history_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """`destination_delivery` of many runs in one query (the history lists)."""
    if not history_ids:
        return {}
    rows = db.session.scalars(
        select(DestinationDelivery)
        .where(DestinationDelivery.history_id.in_(history_ids))
        .order_by(DestinationDelivery.history_id, DestinationDelivery.position)
    )
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.history_id, []).append(row.as_result())
    return found
