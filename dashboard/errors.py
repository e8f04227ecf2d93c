"""Error handlers: JSON on API paths, an HTML page elsewhere; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from dashboard.core.errors import NotFound

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    401: "Authentication is required.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    409: "This is not possible in the current state.",
    413: "The request body is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str | None = None, errors: dict | None = None):
    message = message or MESSAGES.get(status, "Error.")
    if wants_json():
        body = {"detail": message}
        if errors is not None:
            body = {"errors": errors}
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return error_response(
            400, "The form expired or is missing its security token. Reload the page and try again."
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        description = error.description if status in (403, 409, 429, 503) else None
        if status == 429:
            # A limit that says in words what was limited keeps its sentence (dashboard/web/limits.py);
            # others (a bare "10 per 1 minute") get the general one.
            limit = getattr(error, "limit", None)
            description = error.description if getattr(limit, "error_message", None) else MESSAGES[429]
        if status == 403 and description and description.startswith("You don't have"):
            description = None
        # A page answer is (html, status): make it a response before setting a header on it (a
        # 405 on any page was a 500).
        response = make_response(error_response(status, description))
        if status == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        if status == 503 and getattr(error, "retry_after", None) is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(NotFound)
    def not_found(error: NotFound):
        # A service or a scoped lookup found nothing in this business: the same 404 as a missing
        # page, whether the object is missing or another business's.
        return error_response(404)

    @app.errorhandler(InternalServerError)
    def internal_error(error):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500)

    @app.errorhandler(Exception)
    def unhandled(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        log.exception("Unhandled error on %s %s", request.method, request.path)
        from dashboard.extensions import db

        db.session.rollback()
        return error_response(500)
