"""/schedules/<id>: one schedule's page. Its sentence, its next runs, its recent runs as a timeline
(status, duration, records, who got the mail, the file, retry or run again in one click) and its
actions; editing is one of them.

The actions post to the list's routes (run now, test, activate, deactivate, delete) with
`hx-target="#schedule-page"`: those answer with this page's panel when that is their target.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, request, url_for
from flask_login import current_user

from dashboard.core.errors import NotPossible, ValidationError
from dashboard.extensions import db
from dashboard.models.automation import TRIGGER_MANUAL, ExportHistory, ExportSchedule
from dashboard.services import history as history_service
from dashboard.services import runs as run_service
from dashboard.services import schedules as schedule_service
from dashboard.services.presenters import schedule_to_dict
from dashboard.services.schedule_words import schedule_sentence
from dashboard.tenancy import get_scoped_or_404, require_business
from dashboard.web.common import (
    ERROR,
    as_datetime,
    is_htmx,
    redirect_with_toast,
    render_fragment,
    render_page,
    toast,
)
from dashboard.web.history import run_view
from dashboard.web.limits import run_limited

PAGE_TARGET = "schedule-page"
TIMELINE_SHOWN = 10


def _timeline(schedule: ExportSchedule) -> tuple[list[dict[str, Any]], int]:
    business = require_business()
    filters = {"schedule_id": schedule.id}
    stmt = history_service.history_query(business, filters).limit(TIMELINE_SHOWN)
    runs = [run_view(history) for history in db.session.scalars(stmt)]
    return runs, history_service.count_history(business, filters)


def page_context(schedule: ExportSchedule) -> dict[str, Any]:
    now = datetime.now(UTC)
    s = schedule_to_dict(schedule, now)
    zone = ZoneInfo(schedule.timezone)
    next_runs = [as_datetime(o["utc"]).astimezone(zone) for o in s["next_runs"]]
    values = schedule_service.schedule_values(schedule)
    runs, total = _timeline(schedule)
    return {
        "business": require_business(),
        "schedule": schedule,
        "s": s,
        "sentence": schedule_sentence(values, next_runs[0] if next_runs else None),
        "next_runs": next_runs,
        "runs": runs,
        "runs_total": total,
    }


def render_panel(schedule: ExportSchedule, status: int = 200):
    """The page's panel alone: what an action on the page swaps in."""
    return render_fragment("schedules/partials/_page.html", status=status, **page_context(schedule))


def is_page_target() -> bool:
    return is_htmx() and request.headers.get("HX-Target") == PAGE_TARGET


def page(schedule_id: str):
    schedule = get_scoped_or_404(ExportSchedule, schedule_id)
    return render_page("schedules/page.html", "schedules/partials/_page.html", **page_context(schedule))


@run_limited
def rerun(history_id: str):
    """Retry a failed run, or run a finished one again, for the same period, from the timeline."""
    business = require_business()
    history: ExportHistory | None = history_service.get_history(business, history_id)
    if history is None:
        abort(404)
    schedule = history.schedule
    if request.args.get("from") == "home":  # the home page's "Needs your attention" card
        back, schedule = url_for("home.index"), None
    elif schedule is not None:
        back = url_for("schedules.page", schedule_id=schedule.id)
    else:
        back = url_for("history.detail", history_id=history.id)
    verb = "Retrying" if history.status == "FAILED" else "Running it again"
    try:
        run_service.rerun(history, current_user, TRIGGER_MANUAL)
    except (NotPossible, ValidationError) as exc:
        message = (
            " ".join(m for ms in exc.errors.values() for m in ms)
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        if schedule is None or not is_htmx():
            return redirect_with_toast(back, message or "This is not possible now.", ERROR)
        return toast(render_panel(schedule), message or "This is not possible now.", ERROR)
    message = f"{verb} for the same period; it shows at the top of the timeline."
    if schedule is None or not is_htmx():
        return redirect_with_toast(back, message)
    return toast(render_panel(schedule), message)
