"""The htmx pages, one blueprint per feature."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from dashboard.web.common import register_template_helpers
    from dashboard.web.exports import bp as exports_bp
    from dashboard.web.history import bp as history_bp
    from dashboard.web.home import bp as home_bp
    from dashboard.web.schedules import bp as schedules_bp
    from dashboard.web.settings import bp as settings_bp
    from dashboard.web.statistics import bp as statistics_bp

    register_template_helpers(app)
    for blueprint in (home_bp, schedules_bp, exports_bp, history_bp, statistics_bp, settings_bp):
        app.register_blueprint(blueprint)

    from dashboard.web.account import bp as account_bp
    from dashboard.web.people import bp as people_bp

    for blueprint in (people_bp, account_bp):
        app.register_blueprint(blueprint)

    # Browsers and bookmark tools ask for /favicon.ico whatever the page says (it was a 404).
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"))

    from dashboard.web.downloads import bp as downloads_bp

    app.register_blueprint(downloads_bp)
    from dashboard.web.unsubscribe import bp as unsubscribe_bp

    app.register_blueprint(unsubscribe_bp)  # issue 19: one-click unsubscribe, no sign-in
    from dashboard.web.destinations import bp as destinations_bp

    app.register_blueprint(destinations_bp)  # issue 19: the schedule form's destinations
