"""Work that makes many short-lived objects, with Python's cyclic garbage collector held back.

The collector runs a pass after every 700 or so new container objects, and each pass walks every
young object still alive. An export batch (1,000 rows read, converted and written) keeps its
thousands of rows alive until its end, so the collector walked each batch several times over and
found nothing: the rows are freed by their reference counts when the batch ends. Starting the app
is the same: modules, classes and functions made once, kept for good (issue 21,
docs/performance.md).

`collector_paused()` holds the collector back for one such stretch. The setting is the
interpreter's, shared by every thread, so a stretch is kept short (a batch, the start-up) and the
collector is turned back on only by the stretch that turned it off: the first allocation after it
runs the pass that was due.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection within the block (reference counting frees as always)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
