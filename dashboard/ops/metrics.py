"""Prometheus metrics: what happened (counters fed by the code) and what is (read at scrape time).

Counters and histograms live in prometheus_client's registry. Under gunicorn every worker is its own
process: with `PROMETHEUS_MULTIPROC_DIR` set (gunicorn.conf.py sets it), each process writes its
values to files there and a scrape of any worker adds them all up (prometheus_client's multiprocess
mode). Figures that live in the database (the PENDING backlog, the age of the oldest PENDING run,
the outbox) are not counted by anybody: `DatabaseCollector` reads them with one cheap query per
scrape, so every worker answers the same and nothing drifts.

`/metrics` needs the operator token (`OPS_TOKEN`, dashboard/ops/access.py).

Every `record_*` function never raises: a metrics problem must not fail a run or a mail.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from dashboard.ops.access import is_operator

log = logging.getLogger(__name__)

PREFIX = "export_automation"

RUNS = Counter(
    f"{PREFIX}_runs",
    "Runs reaching a final status (COMPLETED, FAILED; EMAILED when the export mail is accepted).",
    ["status", "export_type", "format", "trigger"],
)
RUN_DURATION = Histogram(
    f"{PREFIX}_run_duration_seconds",
    "Time from a run's start to its COMPLETED or FAILED write.",
    ["export_type", "format", "status"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
MAIL = Counter(
    f"{PREFIX}_mail",
    "Mail attempts by kind and outcome: sent, retry (transient failure), uncertain, refused "
    "(permanent), given_up (MAIL_GIVE_UP_HOURS passed), held (over the business's daily limit).",
    ["kind", "outcome"],
)
STALE_RECOVERED = Counter(
    f"{PREFIX}_stale_runs_recovered",
    "Runs marked FAILED 'interrupted' (no heartbeat for EXPORT_STALE_SECONDS).",
    ["reason"],
)
# liveall: one series per live process (pid label under gunicorn); a dead worker's series goes
# with it (gunicorn.conf.py's child_exit), so a stopped scheduler cannot hide behind an old value.
SCHEDULER_LAST_POLL = Gauge(
    f"{PREFIX}_scheduler_last_poll_timestamp_seconds",
    "Unix time when this process's scheduler last finished a poll.",
    multiprocess_mode="liveall",
)
REQUEST_LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Request latency by Flask endpoint, method and status class.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def _safe(fn):
    def wrapper(*args, **kwargs):
        try:
            fn(*args, **kwargs)
        except Exception:  # never let a metric break the work it measures
            log.exception("metrics: %s failed", fn.__name__)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_safe
def record_run(status: str, export_type: str, fmt: str, trigger: str, seconds: float | None = None) -> None:
    RUNS.labels(status, export_type, fmt, trigger).inc()
    if seconds is not None:
        RUN_DURATION.labels(export_type, fmt, status).observe(max(seconds, 0.0))


@_safe
def record_mail(kind: str, outcome: str, count: int = 1) -> None:
    MAIL.labels(kind or "unknown", outcome).inc(count)


@_safe
def record_stale(reason: str, count: int) -> None:
    if count:
        STALE_RECOVERED.labels(reason).inc(count)


@_safe
def scheduler_polled(timestamp: float | None = None) -> None:
    SCHEDULER_LAST_POLL.set(timestamp or time.time())


# --------------------------------------------------------------------------- scrape-time figures


class DatabaseCollector(Collector):
    """Backlog and outbox figures, read from the database when Prometheus scrapes."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from sqlalchemy import case, func, select

        from dashboard.extensions import db
        from dashboard.models.automation import (
            MAIL_FAILED,
            MAIL_SENT,
            STATUS_PENDING,
            STATUS_PROCESSING,
            ExportHistory,
            MailMessage,
        )

        up = GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the scrape could read the database.")
        try:
            # Both use the (status, ...) indexes: PENDING and PROCESSING are a handful of rows.
            runs = db.session.execute(
                select(ExportHistory.status, func.count(), func.min(ExportHistory.created_at))
                .where(ExportHistory.status.in_((STATUS_PENDING, STATUS_PROCESSING)))
                .group_by(ExportHistory.status)
            ).all()
            # A held mail (over its business's daily limit) is a pending row with a reason.
            state = case((MailMessage.held_reason != "", "held"), else_=MailMessage.status)
            outbox = db.session.execute(
                select(state, func.count(), func.min(MailMessage.created_at))
                .where(MailMessage.status.not_in((MAIL_SENT, MAIL_FAILED)))
                .group_by(state)
            ).all()
            db.session.rollback()
        except Exception as exc:
            db.session.rollback()
            log.warning("metrics: the database figures could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = datetime.now(UTC)
        by_status = {row[0]: (row[1], row[2]) for row in runs}
        pending = GaugeMetricFamily(f"{PREFIX}_runs_pending", "Runs waiting to start (PENDING).")
        pending.add_metric([], by_status.get(STATUS_PENDING, (0, None))[0])
        yield pending
        processing = GaugeMetricFamily(f"{PREFIX}_runs_processing", "Runs under way (PROCESSING).")
        processing.add_metric([], by_status.get(STATUS_PROCESSING, (0, None))[0])
        yield processing
        oldest = GaugeMetricFamily(
            f"{PREFIX}_oldest_pending_run_age_seconds", "Age of the oldest PENDING run; 0 when none."
        )
        oldest.add_metric([], _age(by_status.get(STATUS_PENDING, (0, None))[1], now))
        yield oldest
        mail = GaugeMetricFamily(
            f"{PREFIX}_mail_outbox",
            "Mails not yet sent or given up, by outbox status (pending, sending, held, ...).",
            labels=["status"],
        )
        mail_oldest = GaugeMetricFamily(
            f"{PREFIX}_mail_outbox_oldest_age_seconds",
            "Age of the oldest mail not yet sent or given up, by outbox status.",
            labels=["status"],
        )
        for status, count, first in outbox:
            mail.add_metric([status], count)
            mail_oldest.add_metric([status], _age(first, now))
        yield mail
        yield mail_oldest


def _age(value: datetime | None, now: datetime) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return max(0.0, (now - value).total_seconds())


def render() -> bytes:
    """The text exposition: this process's (or every process's) metrics plus the database's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        process_part = generate_latest(registry)
    else:
        process_part = generate_latest(REGISTRY)
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return process_part + generate_latest(database)


bp = Blueprint("metrics", __name__)


@bp.route("/metrics")
def metrics():
    if not current_app.config.get("OPS_TOKEN"):
        return Response("Metrics are off: set OPS_TOKEN.\n", status=404, mimetype="text/plain")
    if not is_operator():
        return Response(
            "The operator token is required.\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(render(), mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    """The /metrics endpoint and the request-latency hooks."""
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer():
        g._request_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("_request_started", None)
        if started is not None:
            try:
                REQUEST_LATENCY.labels(
                    request.endpoint or "unmatched",
                    request.method,
                    f"{response.status_code // 100}xx",
                ).observe(time.perf_counter() - started)
            except Exception:
                log.exception("metrics: request latency not recorded")
        return response
