"""The webhook signature (contract section 6): `X-Export-Signature: t=<unix seconds>,v1=<hex>`,
where hex is HMAC-SHA256 of "<t>.<raw body>" keyed with the destination's secret. Receivers verify
it as docs/destinations.md shows (verify_signature is that recipe, in Python)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Export-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# A receiver should refuse a signature older than this (replays); our own check uses it too.
DEFAULT_TOLERANCE_SECONDS = 300


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when `header` signs exactly `body` with `secret` within `tolerance` seconds of `now`."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))
