"""The runner's only doors to mail delivery, resolved lazily.

The runner and the jobs call these three functions; they forward to
``dashboard.automation.delivery`` (the delivery work) at call time. While that module or one of
its functions does not exist yet, each call does nothing and says so in the log (at DEBUG), so the
runner works on its own: a run then simply ends COMPLETED (or FAILED) without mail.

* `deliver_run_result(history_id)` after a run finished and its fenced final write succeeded,
  outside any transaction: the delivery code decides on the export mail, the success notice or
  the failure alert (and honours ``skip_if_empty`` and ``send_email``).
* `process_outbox(now)` retries pending mail (a job every ``SCHEDULER_POLL_SECONDS``).
* `send_export_summary_report(now)` sends weekly summaries where due (an hourly job).

Only a missing ``dashboard.automation.delivery`` module is treated as "not there yet"; any other
import error in it propagates, so a real bug is never silenced.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

DELIVERY_MODULE = "dashboard.automation.delivery"


def _delivery_function(name: str) -> Callable[..., Any] | None:
    try:
        module = importlib.import_module(DELIVERY_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == DELIVERY_MODULE:
            return None
        raise
    function = getattr(module, name, None)
    return function if callable(function) else None


def deliver_run_result(history_id: Any) -> None:
    function = _delivery_function("deliver_run_result")
    if function is None:
        log.debug("mail delivery is not available; run %s ends without mail", history_id)
        return None
    function(history_id)
    return None


def process_outbox(now: datetime | None = None) -> dict:
    function = _delivery_function("process_outbox")
    if function is None:
        return {"available": False}
    return function(now=now) or {}


def send_export_summary_report(now: datetime | None = None) -> dict:
    function = _delivery_function("send_export_summary_report")
    if function is None:
        return {"available": False}
    return function(now=now) or {}
