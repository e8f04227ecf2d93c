"""Home: what needs attention first (failed runs of the last 7 days, overdue schedules), then the
next runs and the latest exports with their download buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint
from flask_login import login_required

from dashboard.services import history as history_service
from dashboard.services import schedules as schedule_service
from dashboard.services.pages import page_of
from dashboard.services.presenters import schedule_to_dict
from dashboard.tenancy import require_business
from dashboard.web.common import render_page
from dashboard.web.history import run_view

bp = Blueprint("home", __name__)

FAILED_SHOWN = 5
NEXT_SHOWN = 5
LATEST_SHOWN = 6


@bp.route("/")
@login_required
def index():
    business = require_business()
    now = datetime.now(UTC)
    # "The last 7 days" as the business counts days: today and the six before it.
    since = (now.astimezone(ZoneInfo(business.timezone)) - timedelta(days=6)).date()
    failed_query = history_service.history_query(business, {"status": "FAILED", "start_date": since})
    failed_page = page_of(failed_query, 1, FAILED_SHOWN)
    overdue = schedule_service.overdue_schedules(business, now)
    upcoming = schedule_service.upcoming_schedules(business, NEXT_SHOWN, now=now)
    return render_page(
        "home/index.html",
        "home/partials/_content.html",
        business=business,
        failed=[run_view(h) for h in failed_page.items],
        failed_total=failed_page.total,
        overdue=[{"obj": s, "s": schedule_to_dict(s, now)} for s in overdue],
        upcoming=[{"obj": s, "s": schedule_to_dict(s, now)} for s in upcoming],
        latest=group_one_offs([run_view(h) for h in history_service.recent_history(business, LATEST_SHOWN)]),
        has_schedules=schedule_service.has_schedules(business),
        since=since,
    )


def group_one_offs(runs: list[dict]) -> list[dict]:
    """The latest runs with one-off exports in a row gathered into one entry ("3 one-off
    exports"): a list of "One-off export" six times over says nothing (issue 20)."""
    groups: list[dict] = []
    for run in runs:
        if run["schedule_name"]:
            groups.append({"run": run})
        elif groups and "one_offs" in groups[-1]:
            groups[-1]["one_offs"].append(run)
        else:
            groups.append({"one_offs": [run]})
    # A lone one-off export is shown as a run like any other.
    return [{"run": g["one_offs"][0]} if len(g.get("one_offs", ())) == 1 else g for g in groups]
