"""Every feature's blueprint, registered in one place so a newcomer can find them."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from dashboard.web import register as register_web

    register_web(app)

    from dashboard.api import register as register_api

    register_api(app)

    from dashboard.ops import metrics

    metrics.init_app(app)  # /metrics and request latency (docs/operations.md)
