"""The application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from config import DEV_SECRET_KEY, Config, config_for_environment
from dashboard.extensions import csrf, db, limiter, login_manager, mail, migrate

BASE_DIR = Path(__file__).resolve().parent.parent


def create_app(config_class: type[Config] | None = None, *, routes: bool = True, **overrides) -> Flask:
    """The app. `routes=False` (a `flask` command that serves nothing, see dashboard/process_role.py)
    leaves out the pages and the API: their modules are most of a command's start-up time."""
    config_class = config_class or config_for_environment()
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=os.environ.get("INSTANCE_PATH", str(BASE_DIR / "instance")),
    )
    from dashboard.core.fast_json import FastJSONProvider

    app.json = FastJSONProvider(app)  # orjson (issue 21): a run list's JSON, several times faster
    app.config.from_object(config_class)
    app.config.update(overrides)
    _check_production_settings(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address and scheme as the proxies saw them (rate limits, secure cookies).
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_logging(app)
    from dashboard import base_url

    base_url.init_app(app)  # links in e-mails without BASE_URL; warns in production

    from dashboard import database

    database.configure_engine_options(app)
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)

    database.init_app(app)

    from dashboard.auth import init_app as init_auth

    init_auth(app)

    from dashboard import errors, security

    errors.init_app(app)
    security.init_app(app)

    from dashboard.web import limits

    limits.init_app(app)  # the dashboard's run limits and the full-queue answer (429)

    if routes:
        from dashboard import blueprints

        blueprints.register(app)

    from dashboard import cli

    cli.init_app(app)

    from dashboard.templating import init_app as init_templating

    init_templating(app)

    # The weekly summary (delivery) counts runs with the statistics service, a layer above it.
    app.extensions["run_statistics"] = _run_statistics

    from dashboard.automation import jobs

    jobs.init_app(app)
    return app


def _run_statistics(*args, **kwargs) -> dict:
    """services.statistics.statistics, imported when first used (not by every flask command)."""
    from dashboard.services.statistics import statistics

    return statistics(*args, **kwargs)


def _check_production_settings(app: Flask) -> None:
    if app.config.get("ENV_NAME") == "production" and app.config["SECRET_KEY"] in (
        DEV_SECRET_KEY,
        "",
        None,
    ):
        raise RuntimeError(
            "SECRET_KEY must be set to a long random value in production "
            '(python -c "import secrets; print(secrets.token_hex(32))").'
        )
    if app.config.get("ENV_NAME") == "production" and DEV_SECRET_KEY in (
        app.config.get("SECRET_KEY_FALLBACKS") or ()
    ):
        # Accepting the published development key would let anyone sign a session.
        raise RuntimeError("SECRET_KEY_FALLBACKS must not hold the development key in production.")


def _configure_logging(app: Flask) -> None:
    # Structured lines (LOG_FORMAT text/json/keyvalue) carrying log_context() fields such as history_id.
    from dashboard import logging_setup

    logging_setup.init_app(app)
