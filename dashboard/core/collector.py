"""Work that makes many short-lived objects, with Python's cyclic garbage collector held back.

The collector runs a pass after every 700 or so new container objects, and each pass walks every
young object still alive. An export batch (1,000 rows read, converted and written) keeps its
thousands of rows alive until its end, so the collector walked each batch several times over and
found nothing: the rows are freed by their reference counts when the batch ends (a tenth of a CSV
export, docs/performance.md, issue 21). A POS import is the same: hundreds of thousands of
short-lived rows, whose passes made it superlinear.

`collector_paused()` holds the collector back for one such stretch. The setting is the
interpreter's, shared by every thread, so a stretch is kept as short as the work allows (an
export's batch; a POS import, a command of its own) and the collector is turned back on only by
the stretch that turned it off: the first allocation after it runs the pass that was due.
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
