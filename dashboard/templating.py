"""Template helpers: times in the business's timezone, human sizes and durations, htmx source."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user

from dashboard.htmx import htmx_source
from dashboard.ops.version import app_version
from dashboard.tenancy import current_business, current_membership, current_user_memberships


def to_zone(value: datetime | None, tz_name: str | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(ZoneInfo(tz_name or "UTC"))
    except Exception:
        return value.astimezone(UTC)


def format_local(value: datetime | None, tz_name: str | None = None, fmt: str = "%d %b %Y %H:%M") -> str:
    if value is None:
        return "—"
    if tz_name is None:
        business = current_business()
        tz_name = business.timezone if business else "UTC"
    local = to_zone(value, tz_name)
    return f"{local.strftime(fmt)} {local.tzname()}"


def format_utc(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["utctime"] = format_utc
    htmx = htmx_source(app)

    @app.context_processor
    def inject_layout():
        memberships = current_user_memberships()
        return {
            "htmx": htmx,
            "current_membership": current_membership() if current_user.is_authenticated else None,
            "current_business": current_business() if current_user.is_authenticated else None,
            "user_memberships": memberships,
            "app_version": app_version(),
        }
