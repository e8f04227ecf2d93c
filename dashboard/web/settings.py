"""Notification settings (owners): who hears about failures and successes, and the sender's name.

Saved through htmx: the form comes back in place with a confirmation toast, no page reload.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_login import current_user, login_required

from dashboard.core.addresses import MAX_ALLOWED_DOMAINS, shorten
from dashboard.core.errors import ValidationError
from dashboard.models.pos import ROLE_OWNER
from dashboard.services import notifications as service
from dashboard.tenancy import require_business, role_required
from dashboard.web import forms
from dashboard.web.common import is_htmx, redirect_with_toast, render_page, toast

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.before_request
@login_required
@role_required(ROLE_OWNER)
def _owners_only():
    require_business()


def _values_from_form() -> dict[str, Any]:
    # Lists are typed one per line (commas and spaces also separate), over one or more inputs.
    return forms.NotificationSettingsForm(formdata=request.form).payload()


def _render(values: dict[str, Any], errors: dict | None = None, status: int = 200, saved_at=None):
    errors = errors or {}
    row_errors, list_errors = forms.address_errors(values["default_recipients"], errors, "default_recipients")
    # A refused form shows what was typed, within bounds (issue 15: no 30 MB error pages).
    values["allowed_recipient_domains"] = [
        shorten(domain, 260) for domain in values["allowed_recipient_domains"][:MAX_ALLOWED_DOMAINS]
    ]
    return render_page(
        "settings/notifications.html",
        "settings/partials/_form.html",
        status=status,
        business=require_business(),
        values=values,
        errors=errors,
        row_errors=row_errors,
        list_errors=list_errors,
        saved_at=saved_at,
    )


@bp.route("/notifications", methods=["GET", "POST"])
def notifications():
    business = require_business()
    if request.method == "GET":
        settings = service.get_settings(business)
        return _render(service.settings_values(settings), saved_at=service.last_saved_at(business))
    values = _values_from_form()
    try:
        settings = service.update_settings(business, current_user, values)
    except ValidationError as exc:
        return _render(values, exc.errors, status=422)
    message = "Notification settings saved."
    if not is_htmx():
        return redirect_with_toast(request.path, message)
    return toast(_render(service.settings_values(settings), saved_at=settings.updated_at), message)
