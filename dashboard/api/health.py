"""/healthz: can this process reach the database and the export storage?

Load balancers poll it, so it answers quickly and never raises: each check has a short timeout of its
own and reports `ok` or `error: <reason>`; any error makes the answer 503. The storage check proves
what an export needs: on local disk, that the export folder takes a new file (written, synced and
removed); on S3, that the bucket answers `HeadBucket` with these credentials.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from dashboard.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

# Seconds for the S3 probe: a hung endpoint must not hang the load balancer's check.
S3_PROBE_TIMEOUT = 3


def check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # report, never raise: this is what load balancers poll
        db.session.rollback()
        log.warning("healthz: database check failed: %s", exc)
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
        log.warning("healthz: export folder %s is not writable: %s", folder, exc)
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
        log.warning("healthz: bucket %s did not answer: %s", storage.bucket, exc)
        return f"error: bucket {storage.bucket!r} unavailable ({code or type(exc).__name__})"


def check_storage() -> str:
    try:
        from dashboard.automation.storage import get_storage

        storage = get_storage()
    except Exception as exc:  # e.g. STORAGE_BACKEND=s3 without S3_BUCKET
        return f"error: {exc}"
    if storage.backend == "s3":
        return _check_s3(storage)
    if storage.backend == "local":
        return _check_local(str(storage.root))
    return "ok"


@bp.route("/healthz")
def healthz():
    checks = {"database": check_database(), "storage": check_storage()}
    healthy = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if healthy else "error", "checks": checks}), (200 if healthy else 503)
