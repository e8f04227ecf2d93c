"""Double submits: one form, one schedule (a create runs at most once per form nonce)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from flask import session


class OnceRegistry:
    """Runs a create at most once per form nonce.

    The nonce is a hidden field of each rendered form. The first request that carries it creates;
    any other (a double click, a resend after a timeout) gets the first one's result. Concurrent
    duplicates in this process wait on a per-nonce lock; later duplicates, in any process, find the
    result in the person's session.

    Bounded: a lock lives only while requests with its nonce are in flight (a refused form, or a
    nonce a client made up, used to leave one behind forever), and results are kept for at most
    `KEEP` nonces and `TTL_SECONDS` (the person's session remembers their last few for longer).
    """

    SESSION_KEY = "form_nonces"
    KEEP = 2000
    TTL_SECONDS = 3600.0
    SESSION_KEEP = 10

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # nonce -> (lock, requests using it)
        self._done: OrderedDict[str, tuple[str, float]] = OrderedDict()  # nonce -> (result, expires)

    def _enter(self, nonce: str) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(nonce) or (threading.Lock(), 0)
            self._locks[nonce] = (lock, users + 1)
            return lock

    def _leave(self, nonce: str) -> None:
        with self._guard:
            lock, users = self._locks[nonce]
            if users <= 1:
                del self._locks[nonce]
            else:
                self._locks[nonce] = (lock, users - 1)

    def _remembered(self, nonce: str) -> str | None:
        now = time.monotonic()
        with self._guard:
            while self._done:  # oldest first: drop what expired
                oldest, (_, expires) = next(iter(self._done.items()))
                if expires > now:
                    break
                del self._done[oldest]
            entry = self._done.get(nonce)
        return entry[0] if entry else None

    def _remember(self, nonce: str, result: str) -> None:
        with self._guard:
            self._done[nonce] = (result, time.monotonic() + self.TTL_SECONDS)
            while len(self._done) > self.KEEP:
                self._done.popitem(last=False)

    def run(self, nonce: str | None, create: Callable[[], str]) -> tuple[str, bool]:
        """(result id, created now?). Without a usable nonce, simply creates."""
        if not _is_uuid(nonce):
            return create(), True
        assert nonce is not None
        lock = self._enter(nonce)
        try:
            with lock:
                done = self._remembered(nonce) or (session.get(self.SESSION_KEY) or {}).get(nonce)
                if done:
                    return done, False
                result = create()
                self._remember(nonce, result)
                remembered = dict(session.get(self.SESSION_KEY) or {})
                remembered[nonce] = result
                session[self.SESSION_KEY] = dict(list(remembered.items())[-self.SESSION_KEEP :])
                return result, True
        finally:
            self._leave(nonce)


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return bool(value)


def new_nonce() -> str:
    return str(uuid.uuid4())


once = OnceRegistry()
