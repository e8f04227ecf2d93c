"""The site's public address for links in e-mails (`BASE_URL`), and what stands in for it when unset.

With BASE_URL set (production), links always use it. Without it (development):
- inside a request, the address the request came to (`request.host_url`: host and port as served);
- outside one (the scheduler's and export threads, the CLI), the address of the first request this
  process served, else the host and port `flask run` was started with, else http://127.0.0.1:5000.
  The first request wins over `flask run`'s: it is how people actually reach the server (localhost,
  a LAN address), and remembering only the first one means a later request with a forged Host
  header cannot change the links other people receive.
A production start without BASE_URL logs one warning (create_app): links then follow whatever Host
header the first request sent.
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request

DEFAULT_DEV_URL = "http://127.0.0.1:5000"
EXTENSION = "served_base_url"
PRODUCTION_WARNING = (
    "BASE_URL is not set: links in e-mails will use the host of the first request this process "
    "serves (or %s). Set BASE_URL to the site's public address, e.g. https://exports.example.com."
)


def external_base_url(app: Flask | None = None) -> str:
    """Scheme, host and port for absolute links, without a trailing slash."""
    app = app or current_app
    configured = (app.config.get("BASE_URL") or "").rstrip("/")
    if configured:
        return configured
    if has_request_context():
        return request.host_url.rstrip("/")
    return app.extensions.get(EXTENSION) or DEFAULT_DEV_URL


def _flask_run_url() -> str | None:
    """`flask run --host H --port P`: the app is created inside that command's click context."""
    import click

    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "run":
        return None
    host, port = context.params.get("host"), context.params.get("port")
    if not host or not port:
        return None
    if host in ("0.0.0.0", "::"):  # noqa: S104 - reading the bind address, not binding
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def init_app(app: Flask) -> None:
    if app.config.get("BASE_URL"):
        return
    if app.config.get("ENV_NAME") == "production":
        app.logger.warning(PRODUCTION_WARNING, DEFAULT_DEV_URL)
    served = _flask_run_url()
    if served:
        app.extensions[EXTENSION] = served
    remembered = {"done": False}

    @app.before_request
    def _remember_served_url():
        if not remembered["done"]:
            remembered["done"] = True
            app.extensions[EXTENSION] = request.host_url.rstrip("/")
