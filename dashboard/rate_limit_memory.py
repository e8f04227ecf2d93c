"""`memory://` rate limits that sweep expired entries on the request's thread, at most once a second.

limits' MemoryStorage starts a new `threading.Timer` (10 ms) after every hit once the last one has
fired: under steady API traffic that is a new OS thread every few requests in every worker, each
one taking the GIL from the threads serving requests (issue 21: about a thread per two API requests
in a profile). The counters stay limits' own and expire as they did (fixed windows are checked when
read); only the sweep that frees memory (moving-window entries, counters nobody reads again) moves
onto the thread that hits the storage, at most once every SWEEP_SECONDS.

Importing this module makes `memory://` (the default, and what production uses without Redis) mean
this storage. Flask-Limiter's fallback while Redis is down remains limits' own MemoryStorage.
"""

from __future__ import annotations

import threading
from time import monotonic

from limits.storage import MemoryStorage


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["memory"]  # registered in place of limits' MemoryStorage
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        self._sweeping = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    # MemoryStorage calls self.__schedule_expiry() before every hit: the name, mangled, is this.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweeping.release()
