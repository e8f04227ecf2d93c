"""A bounded, thread-safe memo of what is worked out from a row, keyed by the row's whole content.

The history lists present the same finished runs again and again (a manager reloads page 1; the
API is polled): a run's record and its table row are pure functions of its columns, so the work
is kept under a key made of every value they are made from (`content_key`). A run that changed in
any column has another key and is worked out afresh: nothing kept can be stale, and nothing needs
invalidating. What is kept is shared between requests and threads, so callers must not change it.

Bounded per process (least recently used goes first); a size of 0 keeps nothing. Measured in
docs/performance.md (issue 21), with the cost of a page whose rows are all new.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import orjson

__all__ = ["ContentCache", "content_key"]

_MISSING = object()


def content_key(*parts: Any) -> bytes | None:
    """Every value of `parts` written out exactly (orjson: UUIDs, datetimes with their offset,
    JSON values in their stored order); None when a value cannot be written (then keep nothing)."""
    try:
        return orjson.dumps(parts, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return None


class ContentCache:
    """`get_or_make(key, make)`: the value kept under `key`, else `make()` kept and returned."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: Hashable | None, make: Callable[[], Any]) -> Any:
        if key is None or self.maxsize <= 0:
            return make()
        with self._lock:
            found = self._items.get(key, _MISSING)
            if found is not _MISSING:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        value = make()  # outside the lock: two threads may both make it, and keep the same value
        with self._lock:
            self.misses += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def sized(self, maxsize: int) -> ContentCache:
        """This cache, bounded at `maxsize` (a setting read on each use: changing it takes effect)."""
        if maxsize != self.maxsize:
            self.resize(maxsize)
        return self

    def resize(self, maxsize: int) -> None:
        with self._lock:
            self.maxsize = maxsize
            while len(self._items) > max(maxsize, 0):
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
