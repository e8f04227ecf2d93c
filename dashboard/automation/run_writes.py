"""The runner's short writes: each in its own transaction on its own connection, never through
``db.session`` (which a running exporter may be streaming rows from), and the fence that every
write of a running export carries (``WHERE claim_token = :token AND status = 'PROCESSING'``).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, OperationalError

from dashboard.automation import fairness
from dashboard.extensions import db
from dashboard.models.automation import STATUS_PROCESSING, TRIGGER_SCHEDULED, ExportHistory

log = logging.getLogger(__name__)

__all__ = [
    "ClaimLost",
    "claim_run",
    "config",
    "fence",
    "retry_delay_seconds",
    "retry_time",
    "retryable",
    "write",
]

RETRY_JITTER = 0.10


class ClaimLost(Exception):
    """This worker no longer holds the run's claim: stop at once and write nothing."""


def config(name: str, default: Any = None) -> Any:
    return current_app.config.get(name, default)


def retryable(exc: DBAPIError) -> bool:
    """A dropped connection or a lock that outlived the busy timeout: worth one more try."""
    return isinstance(exc, OperationalError) or exc.connection_invalidated


def write(statement, *, retries: int = 1) -> int:
    """Run one UPDATE in its own short transaction on its own connection; its rowcount.

    A dropped connection (PostgreSQL restarted, a killed backend) or a SQLite lock that outlived
    the busy timeout is retried once on a fresh connection; the statements are conditional, so
    running one twice cannot do harm (callers that care check whether it landed)."""
    for attempt in range(retries + 1):
        try:
            with db.engine.begin() as connection:
                return connection.execute(statement).rowcount or 0
        except (OperationalError, DBAPIError) as exc:
            if attempt >= retries or not retryable(exc):
                raise
            log.warning("database write failed (%s); retrying once", exc.__class__.__name__)
            time.sleep(0.2)
    return 0  # pragma: no cover


def claim_run(history_id: uuid.UUID, values: dict, now: datetime, *, retries: int = 1) -> bool:
    """The run claim in its own short transaction (`fairness.claim_run`: also the business's
    concurrency cap); retried once on a dropped connection, like `write`."""
    for attempt in range(retries + 1):
        try:
            with db.engine.begin() as connection:
                return fairness.claim_run(connection, history_id, values, now)
        except (OperationalError, DBAPIError) as exc:
            if attempt >= retries or not retryable(exc):
                raise
            log.warning("run claim failed (%s); retrying once", exc.__class__.__name__)
            time.sleep(0.2)
    return False  # pragma: no cover


def fence(history_id: uuid.UUID, token: str):
    """The WHERE of every write of a running export: only the current claim holder matches."""
    return update(ExportHistory).where(
        ExportHistory.id == history_id,
        ExportHistory.claim_token == token,
        ExportHistory.status == STATUS_PROCESSING,
    )


def retry_delay_seconds(attempt: int, base: float, jitter: float = RETRY_JITTER) -> float:
    """The wait before retrying a run that failed on `attempt` (1 = the original run):
    ``base * 2 ** (attempt - 1)``, spread by +/- `jitter` so that retries do not stampede."""
    delay = float(base) * 2 ** max(0, attempt - 1)
    return delay * random.uniform(1 - jitter, 1 + jitter)


def retry_time(trigger: str, attempt: int, failed_at: datetime) -> datetime | None:
    """When a failed run should be retried: scheduled runs only, while ``attempt`` (1 = the
    original) is at most ``EXPORT_MAX_RETRIES``; None otherwise."""
    if trigger != TRIGGER_SCHEDULED:
        return None
    if attempt > int(config("EXPORT_MAX_RETRIES", 3)):
        return None
    delay = retry_delay_seconds(attempt, float(config("EXPORT_RETRY_BASE_SECONDS", 300)))
    return failed_at + timedelta(seconds=delay)
