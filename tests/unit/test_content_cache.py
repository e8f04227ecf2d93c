"""core/content_cache.py: kept by whole content, bounded, least recently used first out."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from dashboard.core.content_cache import ContentCache, content_key


def test_a_key_changes_with_any_value_and_is_the_same_for_the_same_values():
    run_id = uuid.uuid4()
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    row = (run_id, "COMPLETED", when, {"start_date": "2026-01-01"}, ["a@example.com"], 1536, None)
    assert content_key(row) == content_key(tuple(row))
    for index, changed in enumerate(
        [uuid.uuid4(), "FAILED", when.replace(second=1), {"start_date": "2026-01-02"}, [], 1537, ""]
    ):
        other = list(row)
        other[index] = changed
        assert content_key(tuple(other)) != content_key(row), index
    # The same moment with another offset is another key (a row is kept as it was read).
    assert content_key((when,)) != content_key((when.replace(tzinfo=None),))


def test_what_cannot_be_written_gets_no_key_and_is_never_kept():
    assert content_key(({1: "a non-string key"},)) is None
    assert content_key((object(),)) is None
    cache = ContentCache(10)
    made = []
    for _ in range(3):
        cache.get_or_make(None, lambda: made.append(1) or "value")
    assert made == [1, 1, 1] and len(cache) == 0


def test_kept_values_are_reused_until_pushed_out_by_newer_ones():
    cache = ContentCache(2)
    calls = []

    def make(name):
        return lambda: calls.append(name) or name.upper()

    assert cache.get_or_make(b"a", make("a")) == "A"
    assert cache.get_or_make(b"b", make("b")) == "B"
    assert cache.get_or_make(b"a", make("a")) == "A"  # kept; now the most recently used
    assert cache.get_or_make(b"c", make("c")) == "C"  # pushes out b, the least recently used
    assert cache.get_or_make(b"a", make("a")) == "A"
    assert cache.get_or_make(b"b", make("b")) == "B"
    assert calls == ["a", "b", "c", "b"]
    assert (cache.hits, cache.misses) == (2, 4) and len(cache) == 2


def test_size_zero_keeps_nothing_and_shrinking_drops_the_oldest():
    cache = ContentCache(0)
    assert cache.get_or_make(b"a", lambda: 1) == 1 and len(cache) == 0
    cache.resize(3)
    for key in (b"a", b"b", b"c"):
        cache.get_or_make(key, lambda key=key: key)
    cache.resize(1)
    assert len(cache) == 1 and cache.get_or_make(b"c", lambda: "made again") == b"c"


def test_threads_sharing_a_cache_get_consistent_values_within_its_bound():
    cache = ContentCache(50)
    errors = []

    def work(offset):
        for n in range(2000):
            key = f"k{(n * 7 + offset) % 120}".encode()
            if cache.get_or_make(key, lambda key=key: key.decode()) != key.decode():
                errors.append(key)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(cache) <= 50


def test_sized_follows_a_setting_read_on_each_use():
    cache = ContentCache(0)
    assert cache.sized(2) is cache and cache.maxsize == 2
    for key in (b"a", b"b", b"c"):
        cache.sized(2).get_or_make(key, lambda key=key: key)
    assert len(cache) == 2
    assert len(cache.sized(0)) == 0
