"""The channel interface: how a run's files and summary travel, one class per way of sending.

A channel is a subclass of `Channel` with a `kind` ("email", "webhook", "slack", "sftp"...). The
outbox (outbox.py) holds every delivery as a row naming its channel; the channel decides what to
queue for a run and how to make one attempt at one row. Retries with backoff, giving up, the
`sending` lease, de-duplication and the per-run record are the outbox's, never the channel's.

    @register
    class WebhookChannel(Channel):
        kind = "webhook"

        def queue(self, run, files, destination=None, index=0) -> int:
            return outbox.enqueue(business_id=run.business_id, history_id=run.id, kind=KIND_EXPORT,
                                  channel=self.kind, recipients=[destination["url"]],
                                  content=WebhookPayload(...), key_parts=(self.kind, run.id, index))

        def attempt(self, row) -> Attempt:   # one try; raise nothing
            ...POST row.payload...; return Attempt(ACCEPTED) / Attempt(TRANSIENT, "timed out")

        def record(self, run_id) -> None:    # optional: mirror its rows onto the run
            ...

`deliver(run, files, destination, index)` (queue, attempt now, record, report) is the one call the
dispatcher makes per channel; what could not be sent stays queued for the next outbox pass, which
calls `send(row_ids, now)` (default: `attempt` each row in turn; e-mail overrides it to reuse one
SMTP connection and apply the daily quota). Channels are found by kind with `get_channel(kind)`;
a module that defines one is listed in CHANNEL_MODULES and imported on first use.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from sqlalchemy import select

from dashboard.delivery import outbox
from dashboard.delivery.files import RunFile
from dashboard.extensions import db
from dashboard.models.automation import MAIL_SENT, ExportHistory, MailMessage
from dashboard.models.types import utcnow

log = logging.getLogger(__name__)

# Modules that define channels (each registers its classes on import).
CHANNEL_MODULES: list[str] = [
    "dashboard.delivery.email_channel",
    "dashboard.destinations.outbox",  # webhook, slack, teams, sftp, s3 (issue 19)
]


@dataclass
class Attempt:
    """One attempt's outcome: outbox.ACCEPTED, TRANSIENT (retried), PERMANENT or UNCERTAIN."""

    outcome: str
    error: str = ""


@dataclass
class DeliveryResult:
    """What a channel did for one run: one entry per target (recipient, URL, host...)."""

    kind: str
    entries: list[dict] = field(
        default_factory=list
    )  # {"target", "purpose", "delivered", "error", "attempts"}

    @property
    def delivered(self) -> bool:
        return any(entry["delivered"] for entry in self.entries)


class Channel(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def queue(
        self,
        run: ExportHistory,
        files: Sequence[RunFile],
        destination: dict | None = None,
        index: int = 0,
        now: datetime | None = None,
    ) -> int:
        """Put the run's deliveries in the outbox (idempotent: dedupe keys); commit. Returns how
        many rows were new."""

    def attempt(self, row: MailMessage) -> Attempt:
        """One try at one queued row. Must not raise for a delivery problem: return an Attempt."""
        raise NotImplementedError(f"{type(self).__name__} sends its rows itself")

    def record(self, run_id: uuid.UUID) -> None:  # noqa: B027 (optional hook: most channels need none)
        """Mirror this channel's rows of a run onto the run (after each pass that touched them)."""

    def send(self, row_ids: list[uuid.UUID], now: datetime | None = None) -> Counter:
        """Attempt each due row once (rows of this channel only), then record the touched runs."""
        now = now or utcnow()
        stats: Counter = Counter()
        touched: set[uuid.UUID] = set()
        for row_id in row_ids:
            row = outbox.load_due(row_id, now)
            if row is None:
                continue
            attempt_no = outbox.claim(row, now)
            if attempt_no is None:
                stats["skipped"] += 1  # another process took it
                continue
            try:
                outcome = self.attempt(row)
            except Exception as exc:  # a bug or an unexpected failure: try again later
                log.exception("%s delivery %s failed", self.kind, row.id)
                outcome = Attempt(outbox.TRANSIENT, f"{type(exc).__name__}: {exc}"[:500])
            recorded = outbox.record(row, attempt_no, outcome, now)
            stats[recorded] += 1
            outbox.report_outcome(row, attempt_no, recorded, outcome)
            if row.history_id:
                touched.add(row.history_id)
        for run_id in touched:
            self.record(run_id)
        return stats

    def deliver(
        self, run: ExportHistory, files: Sequence[RunFile], destination: dict | None = None, index: int = 0
    ) -> DeliveryResult:
        """Queue the run's deliveries on this channel, attempt them now, record and report them.
        What could not be sent stays queued for the next outbox pass."""
        self.queue(run, files, destination, index)
        self.send(outbox.pending_ids(utcnow(), history_id=run.id, channel=self.kind))
        self.record(run.id)
        return self.result(run.id)

    def result(self, run_id: uuid.UUID) -> DeliveryResult:
        rows = db.session.scalars(
            select(MailMessage)
            .where(MailMessage.history_id == run_id, MailMessage.channel == self.kind)
            .order_by(MailMessage.created_at, MailMessage.id)
            .execution_options(populate_existing=True)
        ).all()
        return DeliveryResult(
            self.kind,
            [
                {
                    "target": r.recipient,
                    "purpose": r.kind,
                    "delivered": r.status == MAIL_SENT,
                    "error": outbox.describe_row(r),
                    "attempts": r.attempts or 0,
                }
                for r in rows
            ],
        )


_CHANNELS: dict[str, Channel] = {}


def register(cls: type[Channel]) -> type[Channel]:
    """Class decorator: make a channel findable by its kind."""
    _CHANNELS[cls.kind] = cls()
    return cls


def _load() -> None:
    for module in CHANNEL_MODULES:
        importlib.import_module(module)


def get_channel(kind: str) -> Channel:
    """The channel of that kind; KeyError names an unknown one."""
    if kind not in _CHANNELS:
        _load()
    try:
        return _CHANNELS[kind]
    except KeyError:
        raise KeyError(f"No delivery channel {kind!r} (known: {', '.join(sorted(_CHANNELS))})") from None


def send_due(row_ids: list[uuid.UUID], now: datetime | None = None) -> Counter:
    """Hand each row to its channel (in the order given, one channel's rows together)."""
    by_channel: dict[str, list[uuid.UUID]] = {}
    kinds = outbox.channels_of(row_ids)
    for row_id in row_ids:
        if row_id in kinds:
            by_channel.setdefault(kinds[row_id], []).append(row_id)
    stats: Counter = Counter()
    for kind, ids in by_channel.items():
        try:
            channel = get_channel(kind)
        except KeyError:
            log.error("Outbox rows for unknown channel %r left queued", kind)
            stats["unknown_channel"] += len(ids)
            continue
        stats.update(channel.send(ids, now))
    return stats
