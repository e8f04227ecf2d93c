"""The JSON API under /api/."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from dashboard.api.health import bp as health_bp

    app.register_blueprint(health_bp)

    # The JSON API of export automation (docs/api.md; the document at /api/openapi.json).
    from dashboard.api import (
        destinations,  # issue 19: send a test to a destination
        exports,
        history,
        notifications,
        openapi,
        recipes,
        schedules,
    )

    for module in (schedules, destinations, history, notifications, exports, recipes, openapi):
        app.register_blueprint(module.bp)

    # People: members and API tokens of the business (owners), the signed-in person's account.
    from dashboard.api import people

    for blueprint in (people.members_bp, people.tokens_bp, people.me_bp):
        app.register_blueprint(blueprint)
