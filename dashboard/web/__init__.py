"""The htmx pages, one blueprint per feature."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from dashboard.web.home import bp as home_bp

    app.register_blueprint(home_bp)
