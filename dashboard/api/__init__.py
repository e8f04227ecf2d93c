"""The JSON API under /api/."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from dashboard.api.health import bp as health_bp

    app.register_blueprint(health_bp)
