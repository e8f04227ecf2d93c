"""/healthz: is the database reachable?"""

from flask import Blueprint, jsonify
from sqlalchemy import text

from dashboard.extensions import db

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: this is what load balancers poll
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if healthy else "error", "checks": checks}), (200 if healthy else 503)
