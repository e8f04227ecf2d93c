"""Liveness, readiness and the version: `/healthz`, `/readyz`, `/api/version`.

* `/healthz` (liveness): this process answers. No dependency is looked at, so a supervisor (Docker's
  HEALTHCHECK, systemd, Kubernetes) restarts a process only when the process itself is stuck.
* `/readyz` (readiness): can this process do its work? The database, the export storage, Redis when
  one is configured, the SMTP server when `MAIL_SERVER` is set, and this process's scheduler when it
  runs one (its last poll is recent). `?checks=database,storage` limits it to the named checks (what
  a load balancer should ask: an SMTP outage must not take every host out of rotation at once).

Anonymous callers get only `{"status": "ok"}` or `{"status": "error"}` (200 or 503): a check's error
can name a bucket, a host or an exception, which is for operators. With the operator token
(`OPS_TOKEN`, dashboard/ops/access.py) the answer carries `checks` with each check's `ok`,
`disabled` or `error: <reason>`, and the version.

Each check has a short timeout of its own and never raises; failures are logged (WARNING) with their
reason, so the log says what the anonymous answer does not.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import time
import uuid
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from dashboard.core.version import app_version, git_revision
from dashboard.extensions import db
from dashboard.ops.access import is_operator

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

# Seconds for the S3 probe: a hung endpoint must not hang the load balancer's check.
S3_PROBE_TIMEOUT = 3
STARTED_AT = time.time()


def check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # report, never raise: this is what load balancers poll
        db.session.rollback()
        log.warning("readyz: database check failed: %s", exc)
        return f"error: {type(exc).__name__}"


def _check_local(root: str) -> str:
    folder = Path(root)
    # The ".part" suffix marks it as a temporary file, which storage cleanup removes if we die here.
    probe = folder / f".healthz-{os.getpid()}-{uuid.uuid4().hex[:8]}.part"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "xb") as handle:
            handle.write(b"ok")
            handle.flush()
            os.fsync(handle.fileno())
        return "ok"
    except OSError as exc:
        log.warning("readyz: export folder %s is not writable: %s", folder, exc)
        return f"error: export folder not writable ({exc.strerror or type(exc).__name__})"
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass


def _s3_probe_client(storage):
    """A client of its own with short timeouts and no retries, built once per process and app."""
    cache = current_app.extensions.setdefault("healthz_s3_client", {})
    key = (os.getpid(), storage.endpoint_url)
    if key not in cache:
        import boto3
        from botocore.config import Config as BotoConfig

        cache.clear()
        cache[key] = boto3.session.Session().client(
            "s3",
            endpoint_url=storage.endpoint_url,
            config=BotoConfig(
                connect_timeout=S3_PROBE_TIMEOUT,
                read_timeout=S3_PROBE_TIMEOUT,
                retries={"max_attempts": 1, "mode": "standard"},
            ),
        )
    return cache[key]


def _check_s3(storage) -> str:
    try:
        _s3_probe_client(storage).head_bucket(Bucket=storage.bucket)
        return "ok"
    except Exception as exc:
        response = getattr(exc, "response", None) or {}
        code = response.get("Error", {}).get("Code", "")
        log.warning("readyz: bucket %s did not answer: %s", storage.bucket, exc)
        return f"error: bucket {storage.bucket!r} unavailable ({code or type(exc).__name__})"


def check_storage() -> str:
    try:
        from dashboard.storage import get_storage

        storage = get_storage()
    except Exception as exc:  # e.g. STORAGE_BACKEND=s3 without S3_BUCKET
        log.warning("readyz: storage is not configured: %s", exc)
        return f"error: {exc}"
    if storage.backend == "s3":
        return _check_s3(storage)
    if storage.backend == "local":
        return _check_local(str(storage.root))
    return "ok"


def redis_url() -> str:
    """The Redis this deployment uses: REDIS_URL, or the limiter's storage when that is Redis."""
    config = current_app.config
    url = config.get("REDIS_URL") or ""
    storage = config.get("RATELIMIT_STORAGE_URI") or ""
    if not url and storage.startswith(("redis://", "rediss://")):
        url = storage
    return url


def check_redis() -> str:
    url = redis_url()
    if not url:
        return "disabled"
    timeout = float(current_app.config.get("READYZ_PROBE_TIMEOUT", 3))
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except Exception as exc:
        log.warning("readyz: Redis did not answer: %s", exc)
        return f"error: Redis unavailable ({type(exc).__name__})"


_smtp_cache: dict[tuple, tuple[float, str]] = {}
_smtp_lock = threading.Lock()


def _probe_smtp(host: str, port: int, use_ssl: bool, timeout: float) -> str:
    """Open a session and say goodbye: the server's greeting and a NOOP prove it takes mail."""
    try:
        cls = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
        with cls(host, port, timeout=timeout) as smtp:
            code, _ = smtp.noop()
        if code != 250:
            return f"error: SMTP server answered {code}"
        return "ok"
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("readyz: SMTP server %s:%s did not answer: %s", host, port, exc)
        return f"error: SMTP unavailable ({type(exc).__name__})"


def check_smtp() -> str:
    config = current_app.config
    host = config.get("MAIL_SERVER") or ""
    if not host:
        return "disabled"  # mail goes to .eml files
    port = int(config.get("MAIL_PORT") or 25)
    use_ssl = bool(config.get("MAIL_USE_SSL"))
    key = (host, port, use_ssl)
    ttl = float(config.get("READYZ_SMTP_CACHE_SECONDS", 30))
    with _smtp_lock:
        cached = _smtp_cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < ttl:
            return cached[1]
    result = _probe_smtp(host, port, use_ssl, float(config.get("READYZ_PROBE_TIMEOUT", 3)))
    with _smtp_lock:
        _smtp_cache[key] = (time.monotonic(), result)
    return result


def check_scheduler() -> str:
    """This process's scheduler, when it should run one: started, running, and polled lately."""
    from dashboard.automation import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("SCHEDULER_ENABLED"):
        return "disabled"
    state = app.extensions.get("export_scheduler")
    if state is None or state[0] != os.getpid():
        # Enabled but never started here: a `flask` command, or the reloader's parent.
        return "disabled" if app.config.get("SCHEDULER_START") != "postfork" else "error: not started"
    if not state[1].running:
        log.warning("readyz: the export scheduler of process %s has stopped", os.getpid())
        return "error: scheduler stopped"
    age = jobs.seconds_since_last_poll(app)
    limit = jobs.poll_stale_after(app)
    if age is not None and age > limit:
        log.warning("readyz: the export scheduler has not polled for %.0fs (limit %.0fs)", age, limit)
        return f"error: no poll for {age:.0f}s"
    return "ok"


CHECKS = {
    "database": check_database,
    "storage": check_storage,
    "redis": check_redis,
    "smtp": check_smtp,
    "scheduler": check_scheduler,
}


def _answer(status_ok: bool, details: dict):
    body: dict = {"status": "ok" if status_ok else "error"}
    if is_operator():
        body.update(details)
    response = jsonify(body)
    response.status_code = 200 if status_ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
def healthz():
    """Liveness: the process answers (nothing else is looked at)."""
    return _answer(
        True,
        {
            "version": app_version(),
            "pid": os.getpid(),
            "uptime_seconds": round(time.time() - STARTED_AT, 1),
        },
    )


@bp.route("/readyz")
def readyz():
    """Readiness: every dependency this process needs answers (or those named in ?checks=)."""
    asked = [name.strip() for name in request.args.get("checks", "").split(",") if name.strip()]
    unknown = [name for name in asked if name not in CHECKS]
    if unknown:
        body = {"errors": {"checks": [f"Unknown check {unknown[0]!r}; one of {', '.join(CHECKS)}."]}}
        return jsonify(body), 400
    results = {name: CHECKS[name]() for name in (asked or CHECKS)}
    healthy = all(value in ("ok", "disabled") for value in results.values())
    return _answer(healthy, {"checks": results, "version": app_version()})


@bp.route("/api/version")
def version():
    """The release version for everybody; the commit, Python and schema revision for operators."""
    body: dict = {"version": app_version()}
    if is_operator():
        import platform

        body.update(
            {
                "git_revision": git_revision(),
                "python": platform.python_version(),
                "schema_revision": _schema_revision(),
                "hostname": socket.gethostname(),
            }
        )
    return jsonify(body)


def _schema_revision() -> str | None:
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # no alembic table (tests build the schema with create_all) or no database
        db.session.rollback()
        return None
