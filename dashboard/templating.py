"""Template helpers: times in the business's timezone, human sizes and durations, htmx source."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, has_request_context, request, url_for
from flask_login import current_user

from dashboard.core.csrf_tokens import kept_csrf_token
from dashboard.core.display import date_display, datetime_display, mb_display, size_display
from dashboard.core.version import app_version
from dashboard.htmx import htmx_source
from dashboard.tenancy import current_business, current_membership, current_user_memberships


def local_time(value: datetime | None, tz_name: str | None = None, *, weekday: bool = False) -> str:
    """The `localtime` filter: "5 Dec 2026, 07:00 GMT" in `tz_name`, else the current business's
    timezone (dashboard/core/display.py writes every time people read)."""
    if tz_name is None:
        business = current_business()
        tz_name = business.timezone if business else "UTC"
    return datetime_display(value, tz_name, weekday=weekday)


def utc_time(value: datetime | None) -> str:
    """The `utctime` filter: "5 Dec 2026, 07:00 UTC" (a page's times show it on hover)."""
    return datetime_display(value, "UTC")


_LINKS: dict[tuple[str, str, str | None], str] = {}


def kept_url_for(endpoint: str, **values: object) -> str:
    """The templates' `url_for`. A link with no values but a static file's name is the same on
    every request of an app root: kept (a page asks for twenty of them, each a routing build).
    Anything else, and anything outside a request (e-mails' absolute links), is url_for's."""
    if not has_request_context() or (values and (len(values) > 1 or "filename" not in values)):
        return url_for(endpoint, **values)
    key = (request.script_root, endpoint, values.get("filename"))  # type: ignore[arg-type]
    found = _LINKS.get(key)
    if found is None:
        found = _LINKS[key] = url_for(endpoint, **values)
    return found


def init_app(app: Flask) -> None:
    app.jinja_env.globals["url_for"] = kept_url_for
    app.jinja_env.globals["csrf_token"] = kept_csrf_token
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["utctime"] = utc_time
    app.jinja_env.filters["date_display"] = date_display
    app.jinja_env.filters["size_display"] = size_display
    app.jinja_env.filters["mb_display"] = mb_display
    htmx = htmx_source(app)

    @app.context_processor
    def inject_layout():
        memberships = current_user_memberships()
        return {
            # Flask-WTF's own context processor (registered before this one) names its signing
            # generate_csrf; this one comes later, so templates get the kept token.
            "csrf_token": kept_csrf_token,
            "htmx": htmx,
            "current_membership": current_membership() if current_user.is_authenticated else None,
            "current_business": current_business() if current_user.is_authenticated else None,
            "user_memberships": memberships,
            "app_version": app_version(),
        }
