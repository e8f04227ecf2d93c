"""What every JSON endpoint shares: authentication, CSRF, the body limit, the rate limit, JSON bodies,
error rendering and pagination.

A view built on `api_blueprint()` can assume a signed-in member of a business: the blueprint's
`before_request` has already answered 401 (no session, or a bad Bearer token), 403 (no business,
or a session request without its CSRF token) or 413 (a body over `API_MAX_BODY_KB`). Views parse
input, call a service and render; `ValidationError` becomes 400 `{"errors": ...}` and `NotPossible`
409 `{"detail": ...}` here, so no view catches them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, jsonify, request, session
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard.auth import bearer_token
from dashboard.auth.tokens import membership_for_token
from dashboard.core.errors import NON_FIELD, NotPossible, PageNotFound, ValidationError
from dashboard.extensions import csrf, limiter
from dashboard.models.pos import Business, Membership, User
from dashboard.services import pages
from dashboard.tenancy import current_membership

AUTOMATION_PREFIX = "/api/reports/automation"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SEND_JSON_OBJECT = "Send a JSON object."
SET_JSON_CONTENT_TYPE = "Set the header Content-Type: application/json."


# --------------------------------------------------------------------------------------------
# Responses


def error_body(status: int, detail: str, headers: dict[str, str] | None = None):
    response = jsonify({"detail": detail})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_errors(errors: dict[str, list[str]], status: int = 400):
    response = jsonify({"errors": errors})
    response.status_code = status
    return response


def unauthorized(detail: str = "Authentication is required: sign in, or send Authorization: Bearer <token>."):
    return error_body(401, detail, {"WWW-Authenticate": 'Bearer realm="api"'})


def no_content():
    return current_app.response_class(status=204)


# --------------------------------------------------------------------------------------------
# Who is asking


def api_membership() -> Membership:
    membership = current_membership()
    assert membership is not None  # guaranteed by the blueprint's before_request
    return membership


def api_business() -> Business:
    return api_membership().business


def api_user() -> User:
    return api_membership().user


def _authenticate():
    """None when the request may go on, else the error response."""
    if "Authorization" in request.headers:
        # A presented credential is the only one considered: a bad, expired or revoked token is
        # a 401 even when a valid session cookie rides along, so a script never silently acts as
        # whoever is signed in in the same browser.
        token = bearer_token()
        membership = membership_for_token(token) if token else None
        if membership is None:
            return unauthorized("The API token is invalid, expired or revoked.")
        g.token_membership = membership
        g.membership = membership
        g._login_user = membership.user  # Flask-Login's current_user for this request
        g.api_auth = "token"
        return None
    if not current_user.is_authenticated:
        return unauthorized()
    if current_membership() is None:
        return error_body(403, "You are not a member of any business.")
    g.api_auth = "session"
    if request.method in UNSAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            csrf.protect()
        except CSRFError:
            return error_body(
                403,
                "The CSRF token is missing or invalid: send the page's token in the X-CSRFToken "
                "header, or use an API token (Authorization: Bearer <token>).",
            )
    return None


def _max_body_bytes() -> int:
    return int(current_app.config.get("API_MAX_BODY_KB", 256)) * 1024


def _too_large(error: Exception | None = None):
    return error_body(413, f"The request body is too large (at most {_max_body_bytes() // 1024} KB).")


def _before_api_request():
    # Refuse a declared oversize body before reading it. A body without a length (chunked) is
    # read through a cap of one byte more than the limit: werkzeug stops there (silently, when
    # the server marks the stream as terminated), and json_body() answers 413 when it got that
    # extra byte, so nothing larger is ever held in memory.
    limit = _max_body_bytes()
    if request.content_length is not None and request.content_length > limit:
        return _too_large()
    request.max_content_length = limit + 1
    return _authenticate()


def _rate_limit_value() -> str:
    return current_app.config.get("API_RATE_LIMIT", "300 per minute")


def rate_limit_key() -> str:
    """One bucket per token (hashed; never kept in clear), else per signed-in user, else per address."""
    token = bearer_token()
    if token:
        return "api-token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
    user_id = session.get("_user_id")
    if user_id:
        return "api-user:" + str(user_id).partition(":")[0]
    return "api-ip:" + (request.remote_addr or "unknown")


def _validation_error(error: ValidationError):
    return field_errors(error.errors, error.status)


def _not_possible(error: NotPossible):
    return error_body(409, str(error) or "This is not possible in the current state.")


def api_blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    """A JSON API blueprint: CSRF handled here (not by the global hook), authenticated, rate limited."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    csrf.exempt(bp)
    # One shared bucket for the whole API per caller, not one per endpoint.
    limiter.shared_limit(
        _rate_limit_value,
        scope="api",
        key_func=rate_limit_key,
        error_message="Too many requests. Please wait a moment and try again.",
    )(bp)
    bp.before_request(_before_api_request)
    bp.register_error_handler(ValidationError, _validation_error)
    bp.register_error_handler(UnsupportedBody, _unsupported_body)
    bp.register_error_handler(NotPossible, _not_possible)
    bp.register_error_handler(RequestEntityTooLarge, _too_large)
    bp.register_error_handler(PageNotFound, _page_not_found)
    return bp


def route(bp: Blueprint, rule: str, methods: Sequence[str], **options):
    """`bp.route` that also answers the path without its trailing slash (no redirect)."""
    return bp.route(rule, methods=list(methods), strict_slashes=False, **options)


# --------------------------------------------------------------------------------------------
# Input


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_body(required: bool = True, ignored: Collection[str] = ()) -> dict[str, Any]:
    """The request's JSON object; an empty body is `{}` when the body is optional.

    415 for a body that is not declared JSON, 400 for malformed JSON or anything but an object.
    Fields named in `ignored` (read-only ones a client echoes back) are dropped unread.
    """
    raw = request.get_data(cache=True)  # bounded by request.max_content_length
    if len(raw) > _max_body_bytes():
        raise RequestEntityTooLarge()
    if not raw.strip():
        if required:
            raise ValidationError({NON_FIELD: [SEND_JSON_OBJECT]})
        return {}
    if not request.is_json:
        raise UnsupportedBody()
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError({NON_FIELD: [SEND_JSON_OBJECT]}) from None
    if not isinstance(data, dict):
        raise ValidationError({NON_FIELD: [SEND_JSON_OBJECT]})
    data = {key: value for key, value in data.items() if key not in ignored}
    unstorable = unstorable_text_errors(data)
    if unstorable:
        raise ValidationError(unstorable)
    return data


UNSTORABLE_TEXT = "Text must not contain NUL characters or unpaired surrogates (\\u0000, \\ud800)."
_UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE_CHARACTERS.search(value) is not None
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def unstorable_text_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """Fields whose text no database here can store: PostgreSQL refuses NUL, and a lone surrogate
    (JSON's "\\ud800") cannot be encoded by either driver. Both were 500s; now 400s per field."""
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        if _unstorable(key) or _unstorable(value):
            errors[key if not _unstorable(key) else NON_FIELD] = [UNSTORABLE_TEXT]
    return errors


class UnsupportedBody(ValidationError):
    """A body that is not JSON: 415, in the same shape as a 400."""

    def __init__(self) -> None:
        super().__init__({NON_FIELD: [SEND_JSON_OBJECT, SET_JSON_CONTENT_TYPE]})


def _unsupported_body(error: UnsupportedBody):
    return field_errors(error.errors, status=415)


# --------------------------------------------------------------------------------------------
# Pagination


def page_url(page: int | None) -> str | None:
    """This request's absolute URL with `page` replaced, every other parameter kept."""
    if page is None:
        return None
    params = [(key, value) for key, value in request.args.items(multi=True) if key != "page"]
    params.append(("page", str(page)))
    return f"{request.base_url}?{urlencode(params)}"


def cursor_url(cursor: str) -> str:
    """This request's absolute URL moved to `cursor`: page and any old cursor dropped, every
    other parameter (filters, page_size) kept."""
    params = [(key, value) for key, value in request.args.items(multi=True) if key not in ("page", "cursor")]
    params.append(("cursor", cursor))
    return f"{request.base_url}?{urlencode(params)}"


def _page_not_found(error: PageNotFound):
    # Page 1 always exists, empty or not; a page past the end is a 404.
    return error_body(404, str(error) or "There is no such page.")


def paginate(stmt, page: int, page_size: int, present: Callable[[Any], dict], count: int | None = None):
    """One page of a Select as {"count", "next", "previous", "results"} with absolute URLs."""
    return jsonify(pages.paginate(stmt, page, page_size, page_url, present, count=count))
