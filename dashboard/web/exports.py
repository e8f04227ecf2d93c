"""One-off export: choose the type, format and filters, run it, and watch it finish."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from flask_login import current_user, login_required

from dashboard.core.errors import NotPossible, ValidationError
from dashboard.models.automation import TRIGGER_MANUAL
from dashboard.services import history as history_service
from dashboard.services import runs as run_service
from dashboard.tenancy import require_business
from dashboard.web import forms
from dashboard.web.common import ERROR, is_htmx, redirect_with_toast, render_page, toast
from dashboard.web.history import run_view
from dashboard.web.limits import run_limited
from dashboard.web.schedules import form_choices

bp = Blueprint("exports", __name__, url_prefix="/exports")
RECENT = 8


@bp.before_request
@login_required
def _signed_in():
    require_business()


def _context(values: dict[str, Any], errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    business = require_business()
    errors = errors or {}
    row_errors, list_errors = forms.address_errors(values["recipients"], errors, "recipients")
    return {
        "business": business,
        "values": values,
        "errors": errors,
        "row_errors": row_errors,
        "list_errors": list_errors,
        "choices": form_choices(),
        "period_hint": forms.export_period_hint(business.timezone),
        "runs": [run_view(h) for h in history_service.recent_history(business, RECENT)],
    }


@bp.route("/new", methods=["GET", "POST"])
@run_limited
def new():
    if request.method == "GET":
        return render_page(
            "exports/new.html", "exports/partials/_panel.html", **_context(forms.new_export_values())
        )
    business = require_business()
    values = forms.export_form_from_request(request.form)
    try:
        history = run_service.start_one_off_request(
            business, current_user, forms.export_payload(values), TRIGGER_MANUAL
        )
    except ValidationError as exc:
        return render_page(
            "exports/new.html", "exports/partials/_panel.html", status=422, **_context(values, exc.errors)
        )
    except NotPossible as exc:
        response = render_page("exports/new.html", "exports/partials/_panel.html", **_context(values))
        return toast(response, str(exc), ERROR)
    recipients = history.override_recipients or []
    mailed = f" It will be e-mailed to {', '.join(recipients)}." if recipients else ""
    message = "Export started: it appears at the top of the list below." + mailed
    if not is_htmx():
        return redirect_with_toast(url_for("exports.new"), message)
    response = render_page("exports/new.html", "exports/partials/_panel.html", **_context(values))
    return toast(response, message)
