"""The automation jobs and the one in-process APScheduler that runs them.

Jobs (each runs inside ``app.app_context()``, logs, and returns its summary figures):

* `check_and_run_scheduled_exports` every ``SCHEDULER_POLL_SECONDS``: stale-run recovery, then the
  due occurrences are claimed and started on the worker pool (it does not wait for them).
* `cleanup_old_exports` daily at 02:00 UTC: files older than ``EXPORT_RETENTION_DAYS``.
* `retry_failed_exports` every few minutes (``SCHEDULER_POLL_SECONDS``, at least a minute).
* `process_mail_outbox` every ``SCHEDULER_POLL_SECONDS`` and `send_export_summary_report` hourly
  (it decides itself whether it is Sunday 08:00 for each business).

The scheduler starts from `init_app` only when it should: ``SCHEDULER_ENABLED``; never under
``app.testing`` unless ``SCHEDULER_FORCE``; under the debug reloader only in the reloader's child
(the parent would start a second one); and, when the process is the ``flask`` command, only for
``flask run`` (``flask db upgrade`` or ``flask users create`` must not start it). gunicorn, or
any other server importing ``app:app``, starts it; every gunicorn worker then has its own
scheduler, which is safe because every run is claimed in the database.

Each job has ``misfire_grace_time=None`` (a late poll still runs: APScheduler's default of one
second would drop it), ``coalesce=True`` and ``max_instances=1``; the job store is in memory and
never shared (APScheduler's own FAQ).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask

from dashboard.process_role import flask_command

log = logging.getLogger(__name__)

__all__ = [
    "JOB_IDS",
    "check_and_run_scheduled_exports",
    "cleanup_old_exports",
    "create_scheduler",
    "init_app",
    "process_mail_outbox",
    "retry_failed_exports",
    "run_scheduler_forever",
    "send_export_summary_report",
    "should_start_scheduler",
    "shutdown_scheduler",
    "start_scheduler",
]

JOB_IDS = (
    "check_and_run_scheduled_exports",
    "cleanup_old_exports",
    "retry_failed_exports",
    "process_mail_outbox",
    "send_export_summary_report",
)
_EXTENSION_KEY = "export_scheduler"


# ------------------------------------------------------------------------------------ jobs


def _log_summary(level: int, job: str, summary: dict) -> None:
    """A job's figures as fields of the record (`job`, `summary`: an object in JSON logs), not a
    Python dict inside the message: a log store can then filter on summary.failed > 0."""
    figures = {key: value for key, value in summary.items() if isinstance(value, int | float | str)}
    log.log(level, "%s finished", job, extra={"job": job, "summary": figures})


def check_and_run_scheduled_exports(now: datetime | None = None, *, wait: bool = False) -> dict:
    """Recover stale runs, claim due occurrences, start their runs. `wait`: until they end."""
    from dashboard.automation.runner import ScheduledExportRunner

    runner = ScheduledExportRunner()
    recovered = runner.recover_stale_runs(now)
    summary = runner.run_due_schedules(now, wait=wait)
    summary["recovered_stale"] = recovered["stale_failed"]
    summary["expired_pending"] = recovered["pending_expired"]
    _log_summary(logging.INFO, "check_and_run_scheduled_exports", summary)
    return summary


def cleanup_old_exports(days_to_keep: int | None = None, now: datetime | None = None) -> dict:
    """Delete files past ``EXPORT_RETENTION_DAYS`` (or `days_to_keep`); records stay."""
    from dashboard.automation.execution import remove_abandoned_work_dirs
    from dashboard.ops.retention import apply_retention
    from dashboard.storage import get_storage
    from dashboard.storage.run_files import cleanup_run_files

    summary = get_storage().cleanup_old_exports(days_to_keep, now=now)
    summary.update(cleanup_run_files(days_to_keep, now))  # a run's files after its first
    summary["work_dirs_removed"] = remove_abandoned_work_dirs()
    summary.update(apply_retention(now))  # HISTORY_/MAIL_/AUDIT_RETENTION_DAYS (0: keep for ever)
    _log_summary(logging.INFO, "cleanup_old_exports", summary)
    return summary


def retry_failed_exports(now: datetime | None = None, *, wait: bool = False) -> dict:
    """Start the retries that are due (backoff and ``EXPORT_MAX_RETRIES`` in the runner)."""
    from dashboard.automation.runner import ScheduledExportRunner

    summary = ScheduledExportRunner().retry_failed_exports(now, wait=wait)
    _log_summary(logging.INFO, "retry_failed_exports", summary)
    return summary


def process_mail_outbox(now: datetime | None = None) -> dict:
    from dashboard import delivery

    summary = delivery.process_outbox(now)
    _log_summary(logging.DEBUG, "process_mail_outbox", summary)
    return summary


def send_export_summary_report(now: datetime | None = None, force: bool = False) -> dict:
    from dashboard import delivery

    summary = delivery.send_export_summary_report(now, force=force)
    _log_summary(logging.INFO, "send_export_summary_report", summary)
    return summary


# ------------------------------------------------------------------------------------ scheduler


# The scheduler's heartbeat in this process: when it started and when its poll last finished
# (/readyz and the scheduler_last_poll metric read them).
_POLL_KEY = "export_scheduler_polls"


def _record_poll(app: Flask, started: bool = False) -> None:
    now = time.time()
    state = app.extensions.setdefault(_POLL_KEY, {"pid": os.getpid(), "started": now, "last_poll": None})
    if started or state.get("pid") != os.getpid():
        state.update({"pid": os.getpid(), "started": now, "last_poll": None})
    else:
        state["last_poll"] = now
    from dashboard.ops import metrics

    metrics.scheduler_polled(now)


def seconds_since_last_poll(app: Flask) -> float | None:
    """Seconds since this process's scheduler last finished a poll (or started, before its first)."""
    state = app.extensions.get(_POLL_KEY)
    if not state or state.get("pid") != os.getpid():
        return None
    return time.time() - (state.get("last_poll") or state["started"])


def poll_stale_after(app: Flask) -> float:
    """A scheduler that has not polled for this long is stuck: three polls missed, a minute at least."""
    poll = float(app.config.get("SCHEDULER_POLL_SECONDS", 60))
    return max(3 * poll, poll + 60)


def _in_app_context(app: Flask, job: Callable[[], Any], name: str) -> Callable[[], Any]:
    def run() -> Any:
        from dashboard.extensions import db

        with app.app_context():
            try:
                return job()
            except Exception:
                log.exception("scheduled job %s failed", name, extra={"job": name})
                return None
            finally:
                db.session.remove()
                if name == "check_and_run_scheduled_exports":
                    _record_poll(app)

    run.__name__ = name
    return run


def create_scheduler(app: Flask, scheduler_class: type | None = None):
    """An APScheduler scheduler with the five jobs (not started)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler_class = scheduler_class or BackgroundScheduler
    poll = max(0.1, float(app.config.get("SCHEDULER_POLL_SECONDS", 60)))
    retry_every = float(app.config.get("SCHEDULER_RETRY_SECONDS") or max(poll, 60.0))
    scheduler = scheduler_class(
        timezone="UTC",
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    jobs: list[tuple[str, Callable[[], Any], Any]] = [
        ("check_and_run_scheduled_exports", check_and_run_scheduled_exports, IntervalTrigger(seconds=poll)),
        ("cleanup_old_exports", cleanup_old_exports, CronTrigger(hour=2, minute=0, timezone="UTC")),
        ("retry_failed_exports", retry_failed_exports, IntervalTrigger(seconds=retry_every)),
        ("process_mail_outbox", process_mail_outbox, IntervalTrigger(seconds=poll)),
        ("send_export_summary_report", send_export_summary_report, CronTrigger(minute=0, timezone="UTC")),
    ]
    for job_id, function, trigger in jobs:
        scheduler.add_job(
            _in_app_context(app, function, job_id),
            trigger=trigger,
            id=job_id,
            name=job_id,
            replace_existing=True,
            # Explicit as well as in job_defaults: a job added before start() shows its settings.
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )
    return scheduler


def should_start_scheduler(app: Flask, argv: list[str] | None = None) -> bool:
    if not app.config.get("SCHEDULER_ENABLED"):
        return False
    if app.config.get("SCHEDULER_FORCE"):
        return True
    if app.testing:
        return False
    from werkzeug.serving import is_running_from_reloader

    if app.debug and not is_running_from_reloader():
        return False  # the reloader's parent: its child starts the one scheduler
    command = flask_command(list(sys.argv if argv is None else argv))
    return command is None or command == "run"


def start_scheduler(app: Flask):
    """Start the app's background scheduler (once per app and process); returns it."""
    state = app.extensions.get(_EXTENSION_KEY)
    if state is not None and state[0] == os.getpid() and state[1].running:
        return state[1]
    scheduler = create_scheduler(app)
    scheduler.start()
    app.extensions[_EXTENSION_KEY] = (os.getpid(), scheduler)
    _record_poll(app, started=True)
    log.info(
        "export scheduler started (poll every %ss, %s workers)",
        app.config.get("SCHEDULER_POLL_SECONDS"),
        app.config.get("EXPORT_WORKERS"),
    )
    return scheduler


def shutdown_scheduler(app: Flask, wait: bool = True) -> None:
    """Stop the app's scheduler and its worker pool (waiting for running exports)."""
    from dashboard.automation import executor

    state = app.extensions.pop(_EXTENSION_KEY, None)
    if state is not None and state[0] == os.getpid() and state[1].running:
        state[1].shutdown(wait=wait)
    executor.shutdown(wait=wait, app=app)


def init_app(app: Flask) -> None:
    if app.config.get("SCHEDULER_START") == "postfork":
        return  # gunicorn.conf.py starts it in each worker after the fork, never in the arbiter
    if not should_start_scheduler(app):
        return
    start_scheduler(app)
    atexit.register(shutdown_scheduler, app, False)


def run_scheduler_forever(app: Flask) -> None:
    """`flask scheduler run`: the jobs in the foreground until Ctrl-C or SIGTERM, then a clean stop
    (running exports are waited for)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from dashboard.automation import executor

    scheduler = create_scheduler(app, BlockingScheduler)
    _record_poll(app, started=True)
    stopping = threading.Event()

    def stop(signum, frame):  # noqa: ARG001
        if not stopping.is_set():
            stopping.set()
            log.info("stopping the export scheduler (signal %s)", signum)
            scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()  # blocks until shutdown
    except (KeyboardInterrupt, SystemExit):
        if scheduler.running:
            scheduler.shutdown(wait=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        executor.shutdown(wait=True, app=app)
