"""`/unsubscribe/<token>`: the page (GET) and the one-click removal (POST, RFC 8058), without
signing in. A mail client's one-click POST carries no CSRF token; the signed token is the proof."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request

from dashboard.extensions import csrf
from dashboard.services.audit import client_ip
from dashboard.services.unsubscribe import ALREADY, INVALID, read_token, unsubscribe

bp = Blueprint("unsubscribe", __name__)


def _page(state: str, found, status: int = 200):
    schedule = found.schedule
    body = render_template(
        "unsubscribe/page.html",
        state=state,
        address=found.address,
        schedule_name=schedule.name if schedule is not None else "",
        business_name=schedule.business.name if schedule is not None else "",
    )
    response = make_response(body, status)
    # The URL is a credential: keep it out of caches, Referer headers and search indexes.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/unsubscribe/<token>")
def page(token: str):
    found = read_token(token)
    if found.outcome == INVALID:
        return _page("invalid", found, 404)
    return _page("already" if found.outcome == ALREADY else "confirm", found)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def remove(token: str):
    # Both the page's button and a mail client's one-click POST ("List-Unsubscribe=One-Click").
    via = "one-click" if request.form.get("List-Unsubscribe") == "One-Click" else "page"
    found = unsubscribe(token, via=via, ip_address=client_ip())
    if found.outcome == INVALID:
        return _page("invalid", found, 404)
    return _page("already" if found.outcome == ALREADY else "removed", found)
