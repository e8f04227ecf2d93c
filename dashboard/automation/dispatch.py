"""Dispatching PENDING runs to this process's worker pool (`executor`), in fair order.

`dispatch_pending` hands out at most as many runs as this process has free workers, so several
processes share the work and waiting happens in the database, where every process sees it; a worker
that finishes picks the next PENDING row itself (`chain`). PENDING rows that nobody picked up (the
process that queued them died before a worker started them) are dispatched again by any poller: the
run claim (`execution.run_history`) makes that safe. A PENDING row is never failed for waiting.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import datetime

from dashboard.automation import executor as executor_module
from dashboard.automation import fairness
from dashboard.automation.execution import run_history
from dashboard.extensions import db
from dashboard.logging_setup import log_context
from dashboard.models.automation import STATUS_COMPLETED, STATUS_FAILED, ExportHistory
from dashboard.models.types import utcnow

log = logging.getLogger(__name__)

__all__ = ["dispatch_pending", "start_queued", "submit", "wait_and_dispatch"]

DISPATCH_BATCH = 200


def dispatch_pending(
    *,
    limit: int | None = None,
    chain: bool = True,
    own_slot: bool = False,
    created_before: datetime | None = None,
) -> list[Future]:
    """Hand PENDING runs to this process's free workers, in fair order; their futures.

    The order (`fairness.dispatch_order`): scheduled runs first, then businesses in turns, the
    least recently served first; nothing of a business already at its concurrency cap.
    Synchronously (``EXPORT_SYNC``) every dispatchable run is executed before this returns.
    `own_slot`: the caller is a worker about to finish, so its slot counts as free. (Always
    real time: `now` injected into a poll says which occurrences are due, not how old a
    queued row is.)"""
    now = utcnow()
    pool = executor_module.get_executor()
    futures: list[Future] = []
    budget = pool.free_slots() + (1 if own_slot else 0)
    if limit is not None:
        budget = min(limit, budget)
    seen: set[uuid.UUID] = set()
    while budget > 0:
        tracked = pool.tracked()
        order = fairness.dispatch_order(min(budget, DISPATCH_BATCH) + len(tracked), now, created_before)
        fresh = [history_id for history_id in order if history_id not in tracked and history_id not in seen]
        if not fresh:
            break
        for history_id in fresh:
            if budget <= 0:
                break
            seen.add(history_id)
            try:
                futures.append(submit(history_id, chain=chain))
            except RuntimeError:  # the pool is shutting down: leave the rest to others
                return futures
            budget -= 1
        if not pool.sync:
            # Runs now queued here hold their turn (tracked); one pass fills the free slots.
            break
    return futures


def submit(history_id: uuid.UUID, *, chain: bool = False) -> Future:
    """Queue one run on this process's worker pool (inline with ``EXPORT_SYNC``)."""
    return executor_module.submit(_run_task, history_id, chain, key=history_id)


def start_queued(history: ExportHistory) -> ExportHistory:
    """Commit a new PENDING run and get it going: with ``EXPORT_SYNC`` it runs here and the
    finished record is returned; otherwise the free workers take the fairest waiting runs (maybe
    another business's) and this one waits its turn in the database."""
    db.session.commit()
    if executor_module.is_sync():
        submit(history.id)
        db.session.refresh(history)
        return history
    dispatch_pending(chain=True)
    return history


def wait_and_dispatch(futures: list[Future]) -> dict:
    """Wait for `futures`, dispatching what becomes dispatchable meanwhile; the outcome counts.
    A one-pass command takes what was pending when it got here, not a stream that never ends."""
    cutoff = utcnow()
    outcome = {"started": len(futures), "completed": 0, "failed": 0, "not_ours": 0}
    pending = set(futures)
    while True:
        for future in [f for f in pending if f.done()]:
            pending.discard(future)
            _count(outcome, future)
        more = dispatch_pending(chain=False, created_before=cutoff)
        outcome["started"] += len(more)
        pending.update(more)
        if not pending:
            break
        wait(pending, timeout=5, return_when=FIRST_COMPLETED)
    return outcome


def _count(outcome: dict, future: Future) -> None:
    try:
        status = future.result()
    except Exception:
        status = STATUS_FAILED
    if status == STATUS_COMPLETED:
        outcome["completed"] += 1
    elif status == STATUS_FAILED:
        outcome["failed"] += 1
    else:
        outcome["not_ours"] += 1


def _run_task(history_id: uuid.UUID, chain: bool) -> str | None:
    """A worker's task: run one history row; then, when asked, pick the next PENDING one so the
    pool stays busy between polls."""
    with log_context(history_id=str(history_id)):  # every log line of this run carries its id
        status = run_history(history_id)
        log.info("run ended: %s", status or "not run here (another worker has it)")
    if chain and not executor_module.is_sync():
        try:
            # This worker is about to be free (its own key is still tracked until it returns).
            dispatch_pending(chain=True, own_slot=True)
        except Exception:
            log.exception("could not dispatch the next pending run")
    return status
