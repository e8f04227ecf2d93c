"""The destinations as channels of the delivery outbox (dashboard/delivery/channels.py).

For a finished, successful run each destination of its schedule becomes one outbox row (channel =
its kind, key = (kind, run, index): never queued twice). The outbox claims the row before each
attempt, retries transient failures with backoff and never attempts a row again once it is sent,
so a 2xx is never followed by another delivery; the receiver sees the same `Idempotency-Key`
(`<run id>:<index>`) on every attempt, so one it got but we could not confirm (a timeout) is
recognisable as a repeat. Each pass writes the run's `destination_delivery`.

This module binds the pure channels (channels/) to the database; the rest of the package knows
nothing of Flask or SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dashboard.core.labels import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.delivery import outbox
from dashboard.delivery.channels import Attempt, Channel, RunFile, register
from dashboard.destinations.channels import CHANNELS, SendContext, get_channel
from dashboard.destinations.config import outbound_policy, plain_config, target_of
from dashboard.destinations.content import DeliveryContent, FileLink
from dashboard.destinations.errors import DestinationError, SecretUnreadable
from dashboard.extensions import db
from dashboard.models.automation import MAIL_SENT, SUCCESS_STATUSES, ExportHistory, MailMessage
from dashboard.storage import get_storage
from dashboard.storage.links import make_download_url

DESTINATION_KINDS: tuple[str, ...] = tuple(sorted(CHANNELS))


def _opener(path: str):
    def open_file():
        return contextlib.closing(get_storage().open(path))

    return open_file


def content_for(history: ExportHistory, files: Sequence[dict]) -> DeliveryContent:
    """What every destination is sent about the run (built once per attempt)."""
    from dashboard.run_record import history_to_dict

    url = make_download_url(history)
    links = tuple(
        FileLink(f["format"], f["file_name"], int(f.get("file_size") or 0), url, _opener(f["path"]))
        for f in files
    )
    run = history_to_dict(history)
    run.pop("file_path", None)  # a storage detail, not the receiver's business
    run["download_url"] = url
    run["files"] = [link.as_json() for link in links]
    schedule = history.schedule
    filters = history.filters_applied or {}
    start, end = filters.get("start_date"), filters.get("end_date")
    period = (start if start == end else f"{start} to {end}") if start and end else None
    label = EXPORT_TYPE_LABELS.get(history.export_type, history.export_type)
    return DeliveryContent(
        run=run,
        files=links,
        business_name=history.business.name,
        schedule_name=history.schedule_name or (schedule.name if schedule else ""),
        title=f"{label} export ({FORMAT_LABELS.get(history.format, history.format)})",
        period=period,
        record_count=history.record_count,
        protected=bool(schedule is not None and schedule.file_password),
    )


class _Queued:
    """The outbox row's payload: the destination as it was when the run finished (secrets still
    encrypted; retries go where the run was meant to go even if the schedule changes) and the files."""

    def __init__(self, destination: dict, index: int, files: Sequence[RunFile]) -> None:
        self.destination, self.index, self.files = destination, index, files

    def payload(self, position: int) -> dict[str, Any]:
        return {
            "destination": dict(self.destination),
            "index": self.index,
            "files": [
                {"format": f.format, "file_name": f.file_name, "file_size": f.file_size, "path": f.path}
                for f in self.files
            ],
        }


def _max_attempts() -> int:
    from flask import current_app

    return int(current_app.config.get("DESTINATIONS_MAX_ATTEMPTS") or 6)


class DestinationChannel(Channel):
    """One destination kind as an outbox channel; the kind's own class does the sending."""

    def queue(
        self,
        run: ExportHistory,
        files: Sequence[RunFile],
        destination: dict | None = None,
        index: int = 0,
        now: datetime | None = None,
    ) -> int:
        if destination is None or run.status not in SUCCESS_STATUSES or not files:
            return 0
        added = outbox.enqueue(
            business_id=run.business_id,
            history_id=run.id,
            kind=outbox.KIND_EXPORT,
            recipients=[target_of(destination)[:254]],
            content=_Queued(destination, index, files),
            key_parts=(self.kind, run.id, index),
            now=now,
            channel=self.kind,
        )
        db.session.commit()
        return added

    def attempt(self, row: MailMessage) -> Attempt:
        # The outbox claimed the row before calling us: its stored count is this attempt's number.
        attempt_no = db.session.scalar(select(MailMessage.attempts).where(MailMessage.id == row.id)) or 1
        payload = row.payload or {}
        try:
            history = db.session.get(ExportHistory, row.history_id)
            if history is None or not history.file_path:
                raise DestinationError("The run's file is no longer stored.")
            get_channel(self.kind).deliver(
                content_for(history, payload.get("files") or []),
                plain_config(payload["destination"]),
                SendContext(outbound_policy(), f"{row.history_id}:{payload.get('index', 0)}"),
            )
        except SecretUnreadable as exc:
            return Attempt(outbox.PERMANENT, str(exc))
        except DestinationError as exc:
            if not exc.retryable:
                return Attempt(outbox.PERMANENT, exc.message)
            if attempt_no >= _max_attempts():
                return Attempt(outbox.PERMANENT, f"Gave up after {attempt_no} attempts: {exc.message}")
            return Attempt(outbox.TRANSIENT, exc.message)
        return Attempt(outbox.ACCEPTED)

    def record(self, run_id: uuid.UUID) -> None:
        record_destination_delivery(run_id)


def record_destination_delivery(run_id: uuid.UUID) -> list[dict[str, Any]]:
    """Write the run's `destination_delivery` from its outbox rows, in the schedule's order."""
    rows = db.session.scalars(
        select(MailMessage)
        .where(MailMessage.history_id == run_id, MailMessage.channel.in_(DESTINATION_KINDS))
        .execution_options(populate_existing=True)
    ).all()
    rows = sorted(rows, key=lambda r: (r.payload or {}).get("index", 0))
    results = [
        {
            "kind": row.channel,
            "target": row.recipient,
            "delivered": row.status == MAIL_SENT,
            "error": outbox.describe_row(row),
            "attempts": row.attempts or 0,
        }
        for row in rows
    ]
    history = db.session.get(ExportHistory, run_id)
    if history is not None and list(history.destination_delivery or []) != results:
        history.destination_delivery = results
        db.session.commit()
    return results


for _kind in DESTINATION_KINDS:
    register(type(f"{_kind.title()}DestinationChannel", (DestinationChannel,), {"kind": _kind}))
