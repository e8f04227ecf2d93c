"""Sign-in throttling: refuse one address guessing at one account; slow, never refuse, the rest.

Three counts of failed sign-ins, kept in the rate limiter's storage (Redis in production, so every
worker and host shares them):

- per (account, client address), `LOGIN_RATE_LIMIT`: over it, that address gets 429 for that
  account (even with the right password, so the hit is not told apart) until the window passes;
- per account, from all addresses, `LOGIN_ACCOUNT_RATE_LIMIT`; and
- per client address, for all accounts, `LOGIN_ADDRESS_RATE_LIMIT`: over either, every attempt
  first waits `LOGIN_SLOWDOWN_SECONDS` and then goes on.

So a stranger cannot lock a person out of their account (from their own address they sign in,
at most a little slower), and one office address shared by many people does not lock out everyone
behind it. The account is the typed address, lower-cased, whether an account has it or not (the
answers must not tell which addresses exist).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from flask import current_app, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter

from dashboard.extensions import limiter

log = logging.getLogger(__name__)

sleep = time.sleep  # tests replace it to see the slow-downs asked for without waiting
# When the shared storage does not answer: count in this process rather than not at all (the
# limiter's own in-memory fallback does the same for the other limits).
_local = MovingWindowRateLimiter(MemoryStorage())


@dataclass(frozen=True)
class Verdict:
    retry_after: int | None  # refused (429) with this Retry-After, else None
    slow_down: float  # seconds to wait before checking the password


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _limit(name: str, default: str) -> RateLimitItem:
    return parse(str(current_app.config.get(name) or default))


def _keys(email: str) -> dict[str, tuple[str, ...]]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    # Hashed: the typed address may be anything (long, odd characters) and is no business of Redis.
    account = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    address = request.remote_addr or "unknown"
    return {
        "pair": (prefix, "login-pair", account, address),
        "account": (prefix, "login-account", account),
        "address": (prefix, "login-address", address),
    }


def _limits() -> dict[str, RateLimitItem]:
    return {
        "pair": _limit("LOGIN_RATE_LIMIT", "10 per 5 minutes"),
        "account": _limit("LOGIN_ACCOUNT_RATE_LIMIT", "30 per 5 minutes"),
        "address": _limit("LOGIN_ADDRESS_RATE_LIMIT", "100 per 5 minutes"),
    }


def _strategy() -> RateLimiter:
    return limiter.limiter


def _with_fallback(action):
    try:
        return action(_strategy())
    except Exception:  # a Redis outage must not stop sign-in, nor let it go uncounted
        log.warning("sign-in throttle: the rate-limit storage did not answer; counting in this process")
        return action(_local)


def check(email: str) -> Verdict:
    """Before the password is checked: refuse the pair, or say how long to slow down."""
    if not _enabled():
        return Verdict(None, 0.0)
    limits, keys = _limits(), _keys(email)

    def verdict(strategy: RateLimiter) -> Verdict:
        if not strategy.test(limits["pair"], *keys["pair"]):
            reset = strategy.get_window_stats(limits["pair"], *keys["pair"]).reset_time
            return Verdict(max(1, math.ceil(reset - time.time())), 0.0)
        crowded = not strategy.test(limits["account"], *keys["account"]) or not strategy.test(
            limits["address"], *keys["address"]
        )
        return Verdict(None, float(current_app.config.get("LOGIN_SLOWDOWN_SECONDS", 2)) if crowded else 0.0)

    return _with_fallback(verdict)


def record_failure(email: str) -> None:
    """A failed sign-in counts once in each of the three windows."""
    if not _enabled():
        return
    limits, keys = _limits(), _keys(email)

    def hit(strategy: RateLimiter) -> None:
        for name in ("pair", "account", "address"):
            strategy.hit(limits[name], *keys[name])

    _with_fallback(hit)


def slow_down(verdict: Verdict) -> None:
    if verdict.slow_down > 0:
        sleep(verdict.slow_down)


def guard(email: str) -> None:
    """Before a password is checked outside the sign-in page (a password change): the same counts
    as sign-in, so guesses there use up the same allowance. Raises 429 with Retry-After."""
    from werkzeug.exceptions import TooManyRequests

    verdict = check(email)
    if verdict.retry_after is not None:
        raise TooManyRequests(retry_after=verdict.retry_after)
    slow_down(verdict)
