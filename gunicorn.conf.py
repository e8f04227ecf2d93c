"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py app:app` (see docs/deploy.md).

The export scheduler runs in every worker, started after the fork, because a thread started in the
arbiter does not survive fork() and database connections must never be shared across it:

* This file sets SCHEDULER_START=postfork before the application is imported, so create_app() (in the
  arbiter with --preload, or in each worker without it) never starts the scheduler itself.
* post_worker_init (in each worker, after the app is loaded and before it serves a request) throws
  away any pooled database connection inherited from the arbiter, then starts this worker's scheduler.
  Every worker on every host polls; each run is claimed atomically in the database, so each due
  occurrence runs once (CONTRACT section 4).
* On SIGTERM (a deploy, a scale-down, `kill -TERM <arbiter>`) the worker stops its scheduler at once
  (no new claims), lets running exports finish while gunicorn drains requests, and shortly before
  gunicorn's deadline hands back whatever is left: runs queued here but not started go back to
  PENDING for any worker to take, and runs still going are released in the database (their writer is
  fenced out). worker_exit waits for that, never longer than the deadline.
* A worker that dies without any of this (SIGKILL, OOM, a host lost) leaves PROCESSING runs behind:
  after EXPORT_STALE_SECONDS without progress another worker marks them FAILED "interrupted" and the
  retry job runs them again.

With SCHEDULER_ENABLED=0 the workers only serve requests; run `flask scheduler run` elsewhere.
Every setting below may be overridden on the command line (-w, -b, --timeout, ...).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

# Before the app is imported (this file is read first, also with --preload): the hooks below start
# the scheduler, never create_app().
os.environ["SCHEDULER_START"] = "postfork"
import config as _app_config  # noqa: E402,F401 - reads .env (when present) before the settings below; not `config`: gunicorn would take that name for its own -c setting

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads: a slow client downloading a large export must not hold the worker's only request slot.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Connections a worker holds at once, idle keep-alive ones included (gunicorn's default: 1000).
# Past it the worker stops accepting and new connections wait for whichever worker frees a place:
# uncapped, one worker took a burst's every connection and queued it on its own threads while the
# other idled, doubling every latency (issue 21, docs/performance.md). Two per thread (the one it
# serves and one ready behind it), plus two.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", str(threads * 2 + 2)))
# Request timeout (the arbiter restarts a worker whose main loop stalls this long). Exports run in
# background threads and are not bound by it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# How long a stopping worker has to finish its requests and exports before gunicorn kills it.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Behind a load balancer or reverse proxy, set FORWARDED_ALLOW_IPS to its address so that
# X-Forwarded-Proto is trusted (https links, secure cookies).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def _structured_logging() -> dict:
    """gunicorn's own lines (boot, worker exits, the access log) in the app's format, so that a log
    collector reads one format: JSON in production unless LOG_FORMAT says otherwise."""
    production = os.environ.get("APP_ENV", "").lower() == "production"
    log_format = (os.environ.get("LOG_FORMAT") or ("json" if production else "text")).lower()
    formatter = {"json": "JsonFormatter", "keyvalue": "KeyValueFormatter"}.get(log_format)
    if formatter is None:
        return {}  # gunicorn's default format
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": level, "handlers": []},  # create_app() adds the app's handler
        "formatters": {"structured": {"()": f"dashboard.logging_setup.{formatter}"}},
        "handlers": {
            "structured": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            name: {"level": level, "handlers": ["structured"], "propagate": False, "qualname": name}
            for name in ("gunicorn.error", "gunicorn.access")
        },
    }


logconfig_dict = _structured_logging()


def _metrics_directory() -> str:
    """Prometheus multiprocess mode: every worker writes its counters to files in one folder and a
    scrape of any worker adds them up (dashboard/ops/metrics.py). Set before the app (and with it
    prometheus_client) is imported. Unset: a fresh folder per gunicorn instance, so that two
    instances on one host never mix their figures."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        import tempfile

        directory = tempfile.mkdtemp(prefix="export-automation-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    return directory


METRICS_DIR = _metrics_directory()


def on_starting(server):
    """A new arbiter: the files of a previous instance's processes are not ours (their counters
    would be added to ours for ever)."""
    for name in os.listdir(METRICS_DIR):
        if name.endswith(".db"):
            try:
                os.unlink(os.path.join(METRICS_DIR, name))
            except OSError:
                pass


def child_exit(server, worker):
    """A worker is gone: drop its live gauges (its scheduler's last poll) from the sums."""
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, METRICS_DIR)
    except Exception:  # metrics must never stop the arbiter
        server.log.exception("could not drop the metrics of worker %s", worker.pid)


# gunicorn's control socket (`gunicornc`) defaults to one path per user: several instances on one host
# would fight over it. Off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Seconds kept in reserve before gunicorn's deadline: hand-back writes to the database need them.
HANDBACK_RESERVE = 3.0


def _flask_app(worker):
    """The Flask app this worker serves (worker.wsgi), whatever middleware wraps its wsgi_app."""
    app = getattr(worker, "wsgi", None)
    return app if hasattr(app, "app_context") else None


def _in_worker(worker) -> bool:
    # gunicorn calls worker_exit in the arbiter too (for a worker it finds already gone): the
    # scheduler and exports live in workers only.
    return getattr(worker, "pid", None) == os.getpid()


def post_worker_init(worker):
    if not _in_worker(worker):
        return
    app = _flask_app(worker)
    if app is None:
        worker.log.warning("gunicorn.conf: %r is not a Flask app; scheduler not started", worker.wsgi)
        return
    from dashboard.extensions import db

    with app.app_context():
        # With --preload the pool was created in the arbiter: forget its connections without
        # closing them (close=False), as SQLAlchemy advises for a forked child. Each worker then
        # opens its own.
        for engine in db.engines.values():
            engine.dispose(close=False)

    state = _Lifecycle(app, worker)
    worker._export_lifecycle = state
    state.start_scheduler()
    state.install_sigterm()


def worker_int(worker):
    """SIGINT/SIGQUIT: a quick shutdown. Stop polling and hand back at once, without waiting."""
    state = getattr(worker, "_export_lifecycle", None)
    if state is not None and _in_worker(worker):
        state.begin(deadline=time.monotonic() + HANDBACK_RESERVE, wait_for_exports=False)
        state.join()


def worker_abort(worker):
    """SIGABRT after a request timeout: the worker is about to die; hand back what we hold."""
    worker_int(worker)


def worker_exit(server, worker):
    """The worker's main loop ended (SIGTERM, max_requests, an error): finish the shutdown within
    the time gunicorn still gives this worker, then let the process go."""
    state = getattr(worker, "_export_lifecycle", None)
    if state is None or not _in_worker(worker):
        return
    state.begin(deadline=time.monotonic() + _budget(worker) - HANDBACK_RESERVE, wait_for_exports=True)
    state.join()
    _exit_now()


def _exit_now() -> None:
    """End the worker without the interpreter's finalization, which takes this app's module graph
    1 to 5 seconds of CPU (every restart and deploy waits for it), and which would also wait for an
    export thread still running a run that was just handed back (its writes are fenced off). The
    exit code is the one the worker was leaving with (gunicorn halts on a boot failure's code)."""
    exc = sys.exc_info()[1]
    if exc is None:
        code = 0
    elif isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 1
    logging.shutdown()  # flush every handler: nothing logged is lost
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _budget(worker) -> float:
    # After SIGTERM the arbiter kills at graceful_timeout; a worker restarting on its own (its main
    # loop done, no more heartbeats) is killed after `timeout`. Stay inside both.
    return float(min(worker.cfg.graceful_timeout, worker.cfg.timeout or worker.cfg.graceful_timeout))


class _Lifecycle:
    """One worker's scheduler and export pool, from post_worker_init to exit."""

    def __init__(self, app, worker):
        self.app = app
        self.worker = worker
        self.log = worker.log
        self.scheduler = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.left_running: set = set()

    def start_scheduler(self) -> None:
        from dashboard.automation import jobs

        # SCHEDULER_ENABLED=0: this worker only serves requests (`flask scheduler run` elsewhere).
        if jobs.should_start_scheduler(self.app, argv=["gunicorn"]):
            self.scheduler = jobs.start_scheduler(self.app)
            self.log.info("export scheduler started in worker %s", os.getpid())

    def install_sigterm(self) -> None:
        """Chain gunicorn's SIGTERM handler: begin the shutdown at once, in parallel with gunicorn
        draining its requests, so running exports get the whole graceful_timeout."""
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum, frame):
            deadline = time.monotonic() + _budget(self.worker) - HANDBACK_RESERVE
            self.begin(deadline=deadline, wait_for_exports=True)
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
        signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn sets it: do not break system calls

    def begin(self, deadline: float, wait_for_exports: bool) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._shutdown,
                args=(deadline, wait_for_exports),
                name="export-shutdown",
                daemon=True,
            )
            self._thread.start()

    def join(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join()

    def _shutdown(self, deadline: float, wait_for_exports: bool) -> None:
        try:
            with self.app.app_context():
                summary = self._stop(deadline if wait_for_exports else time.monotonic())
            self.log.info("export shutdown in worker %s: %s", os.getpid(), summary)
        except Exception:  # the worker is going away either way; say why it was not clean
            self.log.exception("export shutdown in worker %s failed", os.getpid())

    def _stop(self, deadline: float) -> dict:
        from dashboard.automation import executor

        # 1. No new polls, claims or retries from this worker.
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        # 2. Close the pool: queued runs are cancelled (they are still PENDING in the database, so
        #    any other worker's next poll takes them); running ones go on.
        pool = executor.get_executor(self.app)
        queued_or_running = pool.tracked()
        pool.shutdown(wait=False, cancel_pending=True)
        # 3. Let running exports finish until the deadline.
        while pool.tracked() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.left_running = pool.tracked()
        released = _hand_back(self.left_running) if self.left_running else 0
        return {
            "queued_or_running": len(queued_or_running),
            "finished_or_requeued": len(queued_or_running) - len(self.left_running),
            "handed_back": released,
        }


def _hand_back(history_ids) -> int:
    """Put runs this worker is still executing back to PENDING for any poller to start again
    (`dashboard.automation.recovery.hand_back`); the number handed back."""
    from dashboard.automation.recovery import hand_back

    return hand_back(history_ids)
