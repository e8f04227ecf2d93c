"""Whole pages kept by everything they show: a page shown before is not rendered again.

A signed-in page is its frame (base.html and _nav.html: who is signed in, the businesses to switch
between, the form token, which link is the current one) around its content. `frame_key` is every
value the frame reads; a view that can name every value its content is made of (the history
table: its runs' whole content, the pager, the filters) passes that as `content_key`, and the page
is kept under both. Anything that changes what is shown changes a key, so nothing kept can be
stale and nothing needs invalidating (as core/content_cache.py's rows). A page with messages to
flash is never kept: showing them takes them out of the session.

tests/web/test_kept_pages.py fails when base.html or _nav.html reads a name this key lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import Response, current_app, make_response, render_template, request, session
from flask_login import current_user

from dashboard.core.content_cache import ContentCache
from dashboard.core.csrf_tokens import kept_csrf_token
from dashboard.tenancy import current_membership, current_user_memberships
from dashboard.web.common import page_template, vary_on_htmx

__all__ = ["frame_key", "render_kept_page", "FRAME_NAMES"]

# The names base.html and _nav.html read (the test compares them with the templates'). Each is in
# frame_key's tuple, or the same for every request of the app (url_for: by script_root; htmx).
FRAME_NAMES = frozenset(
    {
        "app_version",
        "csrf_token",
        "current_business",
        "current_membership",
        "current_user",
        "get_flashed_messages",
        "htmx",
        "request",
        "url_for",
        "user_memberships",
    }
)

_PAGES = ContentCache(0)


def kept_pages_size() -> int:
    """How many pages each process keeps (HISTORY_CACHE_PAGES; 0 keeps none)."""
    return int(current_app.config.get("HISTORY_CACHE_PAGES", 0) or 0)


def frame_key() -> tuple[Hashable, ...] | None:
    """Every value the signed-in frame shows, or None when it cannot be kept (messages to flash,
    nobody signed in)."""
    if "_flashes" in session or not current_user.is_authenticated:
        return None
    membership = current_membership()
    business = membership.business if membership else None
    return (
        id(current_app.jinja_env),  # the app: its htmx source, its templates
        request.script_root,
        request.endpoint,
        kept_csrf_token(),
        current_user.id,
        current_user.display_name,
        membership.role if membership else None,
        (business.id, business.name) if business else None,
        tuple((m.business_id, m.business.name) for m in current_user_memberships()),
    )


def render_kept_page(
    full_template: str,
    partial_template: str,
    content_key: Hashable | None,
    context: Callable[[], dict[str, Any]],
) -> Response:
    """render_page's full page or htmx partial, kept under the frame's key and `content_key`
    (None: render, keep nothing). `context()` is asked for only when the page is rendered."""
    template = page_template(full_template, partial_template)
    frame = frame_key() if content_key is not None else None
    key = None if frame is None else (template, frame, content_key)
    kept = _PAGES.sized(kept_pages_size())
    html = kept.get_or_make(key, lambda: render_template(template, **context()))
    return vary_on_htmx(make_response(html, 200))
