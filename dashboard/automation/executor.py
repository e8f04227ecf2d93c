"""A bounded worker pool for export runs: long exports never block the poller or a request.

One pool per app and process (``EXPORT_WORKERS`` threads), created on first use. Every task runs
inside its own ``app.app_context()``: Flask-SQLAlchemy scopes ``db.session`` to the app context
(``scopefunc`` is the id of the current app context), so each task gets its own session, removed
when the task ends, and never shares one with the request or the poller that submitted it.

With ``EXPORT_SYNC`` (TestConfig sets it) `submit` runs the task at once in the calling thread, in
a fresh app context all the same (so it behaves like a worker: its own session), and returns a
finished future: tests are deterministic. The caller must have committed what the task reads.

The pool remembers which keys (history ids) are queued or running here, so a dispatcher does not
queue the same run twice in one process and knows how many slots are free. Across processes the
database claim decides who runs what; this bookkeeping only avoids waste.

`shutdown(wait=True)` stops accepting work and waits for running tasks (for gunicorn's
``worker_exit`` hook or SIGTERM handling); a pool is rebuilt after a fork.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)

__all__ = ["ExportExecutor", "get_executor", "is_sync", "shutdown", "shutdown_all", "submit"]

_registry_lock = threading.Lock()
_executors: dict[int, ExportExecutor] = {}  # id(app) -> pool


def _run_in_app_context(app: Flask, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    from dashboard.extensions import db

    with app.app_context():
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("export task %s failed", getattr(fn, "__name__", fn))
            raise
        finally:
            db.session.remove()


class ExportExecutor:
    def __init__(self, app: Flask, workers: int):
        self.app = app
        self.workers = max(1, int(workers))
        self.pid = os.getpid()
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._keys: set[Hashable] = set()
        self._running = 0
        self._closed = False

    @property
    def sync(self) -> bool:
        return bool(self.app.config.get("EXPORT_SYNC"))

    def _get_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="export-worker")
            return self._pool

    def is_tracked(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._keys

    def tracked(self) -> set[Hashable]:
        with self._lock:
            return set(self._keys)

    def running(self) -> int:
        """Tasks executing right now (at most `workers`)."""
        with self._lock:
            return self._running

    def _counted(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._running += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._running -= 1

        return run

    def free_slots(self) -> int:
        """Workers not busy and not promised to a queued task (unbounded when synchronous)."""
        if self.sync:
            return 1_000_000
        with self._lock:
            return max(0, self.workers - len(self._keys))

    def submit(
        self, fn: Callable[..., Any], *args: Any, key: Hashable | None = None, **kwargs: Any
    ) -> Future:
        """Run `fn(*args, **kwargs)` in its own app context; returns a future.

        A key already queued or running here is not queued again (the existing future is not
        kept; a finished dummy future holding None is returned)."""
        if self.sync:
            future: Future = Future()
            try:
                future.set_result(_run_in_app_context(self.app, fn, args, kwargs))
            except Exception as exc:  # logged by _run_in_app_context
                future.set_exception(exc)
            return future
        with self._lock:
            if self._closed:
                raise RuntimeError("The export worker pool is shut down.")
            if key is not None:
                if key in self._keys:
                    done: Future = Future()
                    done.set_result(None)
                    return done
                self._keys.add(key)
        try:
            future = self._get_pool().submit(self._counted(_run_in_app_context), self.app, fn, args, kwargs)
        except Exception:
            with self._lock:
                self._keys.discard(key)
            raise
        if key is not None:
            future.add_done_callback(lambda _f, k=key: self._forget(k))
        return future

    def _forget(self, key: Hashable) -> None:
        with self._lock:
            self._keys.discard(key)

    def shutdown(self, wait: bool = True, cancel_pending: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_pending)


def get_executor(app: Flask | None = None) -> ExportExecutor:
    """This process's pool for `app` (default: the current app), created lazily."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    with _registry_lock:
        executor = _executors.get(id(app))
        if executor is None or executor.pid != os.getpid() or executor._closed:
            # A forked child (gunicorn --preload) inherits no threads: build a new pool.
            executor = ExportExecutor(app, app.config.get("EXPORT_WORKERS", 2))
            _executors[id(app)] = executor
        return executor


def is_sync(app: Flask | None = None) -> bool:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return bool(app.config.get("EXPORT_SYNC"))


def submit(
    fn: Callable[..., Any], *args: Any, key: Hashable | None = None, app: Flask | None = None, **kwargs
) -> Future:
    return get_executor(app).submit(fn, *args, key=key, **kwargs)


def shutdown(wait: bool = True, app: Flask | None = None, cancel_pending: bool = False) -> None:
    """Stop this process's pool for `app` (default: the current app); waits for running tasks."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    with _registry_lock:
        executor = _executors.pop(id(app), None)
    if executor is not None:
        executor.shutdown(wait=wait, cancel_pending=cancel_pending)


def shutdown_all(wait: bool = True) -> None:
    """Stop every pool of this process (an atexit / worker-exit hook)."""
    with _registry_lock:
        executors = list(_executors.values())
        _executors.clear()
    for executor in executors:
        executor.shutdown(wait=wait)
