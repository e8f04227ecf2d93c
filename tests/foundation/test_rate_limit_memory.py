"""memory:// rate limits sweep on the hitting thread, never a new thread per hit (issue 21)."""

from __future__ import annotations

import threading
import time

import pytest
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from dashboard import rate_limit_memory
from dashboard.rate_limit_memory import SweptMemoryStorage


@pytest.fixture
def timers(monkeypatch):
    """Every threading.Timer the memory storages start, counted."""
    started = []

    class CountedTimer(threading.Timer):
        def start(self):
            started.append(self)
            super().start()

    monkeypatch.setattr("limits.storage.memory.threading.Timer", CountedTimer)
    return started


def test_memory_uri_is_the_swept_storage(app_factory):
    assert type(storage_from_string("memory://")) is SweptMemoryStorage
    from dashboard.extensions import limiter

    app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    assert type(limiter._storage) is SweptMemoryStorage


def _hits(storage, count):
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("1000 per minute")
    for _ in range(count):
        assert limiter.hit(limit, "caller")
        time.sleep(0.015)  # past limits' 10 ms timer, which then starts again on the next hit


def test_hits_start_no_thread(timers):
    storage = SweptMemoryStorage()
    _hits(storage, 6)
    assert len(timers) == 1  # the one MemoryStorage.__init__ starts


def test_the_librarys_storage_starts_one_per_burst(timers):
    # What the swept storage avoids, and the proof that the counting above sees it.
    _hits(MemoryStorage(), 6)
    assert len(timers) >= 6


def test_limits_still_refuse_and_windows_still_end():
    storage = SweptMemoryStorage()
    fixed = FixedWindowRateLimiter(storage)
    limit = parse("2 per second")
    assert fixed.hit(limit, "a") and fixed.hit(limit, "a")
    assert not fixed.hit(limit, "a")
    time.sleep(1.05)
    assert fixed.hit(limit, "a")

    moving = MovingWindowRateLimiter(storage)
    assert moving.hit(limit, "b") and moving.hit(limit, "b")
    assert not moving.hit(limit, "b")


def test_expired_entries_are_swept_once_a_period_and_not_within_it(monkeypatch):
    storage = SweptMemoryStorage()
    storage.timer.join()  # the one sweep of MemoryStorage.__init__, over nothing
    storage.SWEEP_SECONDS = 30  # longer than the windows below take to expire
    moving, fixed = MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage)
    short, long = parse("5 per 1 second"), parse("5 per minute")
    moving.hit(short, "gone")  # the first hit sweeps (nothing yet) and sets the next sweep
    fixed.hit(short, "gone-too")
    time.sleep(1.1)  # both entries have expired

    def expired_left():
        events = [key for key, entries in storage.events.items() if "gone" in key and entries]
        return events + [key for key in storage.storage if "gone" in key]

    fixed.hit(long, "other")  # within the period: nothing swept
    assert len(expired_left()) == 2

    later = time.monotonic() + storage.SWEEP_SECONDS
    monkeypatch.setattr(rate_limit_memory, "monotonic", lambda: later)
    fixed.hit(long, "other")  # a period on: this hit sweeps
    assert expired_left() == []
