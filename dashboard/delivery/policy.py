"""The outbox's timing and size rules, from the configuration: retry backoff, when to give up,
the `sending` lease, and how large a file may be to travel as an attachment."""

from __future__ import annotations

import math
import random
from datetime import timedelta

from flask import current_app


def _config(name: str, default):
    value = current_app.config.get(name)
    return default if value is None or value == "" else value


def retry_base_seconds() -> float:
    return float(_config("MAIL_RETRY_BASE_SECONDS", 60))


def retry_max_seconds() -> float:
    return float(_config("MAIL_RETRY_MAX_SECONDS", 3600))


def give_up_after() -> timedelta:
    """A mail still undelivered this long after it was queued is marked failed (never silently)."""
    return timedelta(hours=float(_config("MAIL_GIVE_UP_HOURS", 48)))


def sending_lease() -> timedelta:
    """How long a row may stay `sending` before another pass may retry it (same Message-ID). Longer
    than any live attempt: every socket operation of an attempt is bounded by MAIL_TIMEOUT."""
    timeout = float(_config("MAIL_TIMEOUT", 30))
    return timedelta(seconds=float(_config("MAIL_SENDING_LEASE_SECONDS", max(600.0, 10 * timeout))))


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: base x 2^(attempts-1), capped, with 10% jitter."""
    seconds = min(retry_max_seconds(), retry_base_seconds() * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def encoded_size(size: int) -> int:
    """Bytes a file takes in a mail: base64 (4 per 3) plus a CRLF every 76 characters."""
    encoded = math.ceil(max(0, size) / 3) * 4
    return encoded + 2 * math.ceil(encoded / 76)


def attachment_limit_bytes() -> int:
    return int(float(_config("MAIL_MAX_ATTACHMENT_MB", 10)) * 1024 * 1024)
