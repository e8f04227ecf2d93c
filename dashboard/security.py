"""Security headers on every response, with a Content-Security-Policy the pages live within."""

from __future__ import annotations

from flask import Flask, request

from dashboard.htmx import htmx_source


def content_security_policy(app: Flask) -> str:
    script_src = ["'self'"]
    # htmx's CDN, exactly that origin (nothing else from it runs: the tag carries an SRI hash).
    cdn_origin = htmx_source(app).cdn_origin
    if cdn_origin:
        script_src.append(cdn_origin)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + " ".join(script_src),
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


NUL_MESSAGE = "Text must not contain NUL characters."


def refuse_nul_characters():
    """400 for a query string or form field holding NUL (0x00), on every route.

    PostgreSQL cannot store or even compare text with NUL: a search or a sign-in with one was a 500.
    No field of this application has a use for it. (JSON bodies: `dashboard.api.common.json_body`.)
    """
    api = request.path.startswith("/api/")
    # The API reads no forms (and checks its body size in its own blueprint, after this hook):
    # parsing a form here would read an oversized body first.
    sources = (request.args,) if api else (request.args, request.form)
    fields = [
        key
        for source in sources
        for key, value in source.items(multi=True)
        if "\x00" in key or "\x00" in value
    ]
    if not fields:
        return None
    from dashboard.errors import error_response

    if api:
        return error_response(400, errors={name.replace("\x00", ""): [NUL_MESSAGE] for name in fields})
    return error_response(400, NUL_MESSAGE)


def init_app(app: Flask) -> None:
    policy = content_security_policy(app)
    app.before_request(refuse_nul_characters)

    @app.after_request
    def set_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
