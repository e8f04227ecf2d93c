"""What every page shares: full page or htmx partial, toasts, and small request helpers.

A page's route renders its full template normally and only the fragment htmx asked for when the
request carries `HX-Request` (Hypermedia Systems' pattern). Responses that differ by that header say
`Vary: HX-Request` so no cache hands a fragment to a full-page visit or the reverse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, flash, make_response, redirect, render_template, request

SUCCESS = "success"
ERROR = "error"
INFO = "info"


def is_htmx() -> bool:
    """An htmx request for a fragment (not a boosted navigation or a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def vary_on_htmx(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response


def page_template(full_template: str, partial_template: str) -> str:
    """The full page for a normal visit, the partial for htmx."""
    return partial_template if is_htmx() else full_template


def render_page(full_template: str, partial_template: str, status: int = 200, **context: Any) -> Response:
    """The full page for a normal visit, the partial for htmx; either way `Vary: HX-Request`."""
    template = page_template(full_template, partial_template)
    response = make_response(render_template(template, **context), status)
    return vary_on_htmx(response)


def render_fragment(template: str, status: int = 200, **context: Any) -> Response:
    """A fragment that only htmx asks for (a row, an error line, a preview)."""
    return vary_on_htmx(make_response(render_template(template, **context), status))


def toast(response: Response, message: str, level: str = SUCCESS) -> Response:
    """Show a confirmation toast after an htmx action (app.js listens for the `toast` event).

    For a plain form post (no JavaScript) the same message is flashed for the next page.
    """
    if not is_htmx():
        flash(message, level)
        return response
    triggers: dict[str, Any] = {}
    existing = response.headers.get("HX-Trigger")
    if existing:
        try:
            triggers = json.loads(existing)
        except ValueError:
            triggers = {name.strip(): None for name in existing.split(",") if name.strip()}
    triggers["toast"] = {"message": message, "level": level}
    # ensure_ascii keeps the header Latin-1 safe; htmx parses the escapes back.
    response.headers["HX-Trigger"] = json.dumps(triggers, ensure_ascii=True)
    return response


def redirect_with_toast(location: str, message: str, level: str = SUCCESS) -> Response:
    """After a saved form: go to `location` and show `message` there.

    htmx gets `HX-Redirect` (a real navigation, so the next page renders whole and shows the
    flashed toast); a plain form post gets a 303.
    """
    flash(message, level)
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303)


def as_datetime(value: Any) -> datetime | None:
    """A datetime from a datetime or an ISO 8601 string (the presenters' "...Z"); None otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def isoformat_utc(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def register_template_helpers(app: Flask) -> None:
    from dashboard.web.forms import FIELD_ANCHORS

    app.jinja_env.filters["as_datetime"] = as_datetime
    app.jinja_env.filters["isoformat_utc"] = isoformat_utc
    app.jinja_env.globals["field_anchors"] = FIELD_ANCHORS
