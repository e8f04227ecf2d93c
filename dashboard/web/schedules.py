"""Schedules: the list (filters and search in place), row actions, and the create/edit form.

Every route parses the form, calls `dashboard.services.schedules` (or `services.runs`) and renders. The
form's parts re-render through htmx: the day fields follow the frequency, the filters follow the
export type, the preview of the next five runs follows every timing change, and each recipient is
checked as it is typed, all with the services' own validation and words.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, make_response, request, url_for
from flask_login import current_user, login_required

from dashboard.core.errors import ErrorCollector, NotPossible, ValidationError
from dashboard.models.automation import TRIGGER_MANUAL, ExportSchedule
from dashboard.services import presets as preset_service
from dashboard.services import runs as run_service
from dashboard.services import schedules as service
from dashboard.services.pages import page_of
from dashboard.services.presenters import schedule_to_dict
from dashboard.services.recipes import get_recipe, list_recipes
from dashboard.services.schedule_words import PERIOD_FOR_FREQUENCY, period_for_frequency
from dashboard.services.timezones import city, search_timezones, utc_offset
from dashboard.services.validation import clean_email, is_timezone_name, validate_schedule_list_params
from dashboard.tenancy import get_scoped_or_404, require_business
from dashboard.web import destinations as destination_form
from dashboard.web import forms, schedule_page
from dashboard.web import schedule_form_help as help
from dashboard.web.common import (
    ERROR,
    SUCCESS,
    as_datetime,
    is_htmx,
    redirect_with_toast,
    render_fragment,
    render_page,
    toast,
    vary_on_htmx,
)
from dashboard.web.history import run_view
from dashboard.web.limits import run_limited

bp = Blueprint("schedules", __name__, url_prefix="/schedules")
# A schedule's own page and the retry of a run from its timeline (dashboard/web/schedule_page.py).
bp.add_url_rule("/<uuid:schedule_id>", "page", schedule_page.page)
bp.add_url_rule("/runs/<uuid:history_id>/rerun", "rerun_run", schedule_page.rerun, methods=["POST"])

LIST_FILTERS = ("is_active", "export_type", "frequency", "search")


@bp.before_request
@login_required
def _signed_in():
    require_business()


# --------------------------------------------------------------------------------------------
# The list


def _list_params() -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The list's filters from the query string; a bad one is reported and ignored."""
    args = {key: request.args.get(key, "") for key in (*LIST_FILTERS, "page")}
    try:
        return validate_schedule_list_params(args), {}
    except ValidationError as exc:
        usable = {key: value for key, value in args.items() if key not in exc.errors}
        return validate_schedule_list_params(usable), exc.errors


def _list_context() -> dict[str, Any]:
    business = require_business()
    params, param_errors = _list_params()
    stmt = service.list_schedules(
        business,
        is_active=params["is_active"],
        export_type=params["export_type"],
        frequency=params["frequency"],
        search=params["search"],
    )
    page = page_of(stmt, params["page"], 20)
    args = {key: request.args.get(key) for key in LIST_FILTERS if request.args.get(key)}
    return {
        "business": business,
        "rows": [_row(schedule) for schedule in page.items],
        "page": page,
        "args": args,
        "filtered": bool(args),
        "param_errors": param_errors,
        "choices": {
            "export_type": forms.EXPORT_TYPE_CHOICES,
            "frequency": forms.FREQUENCY_CHOICES,
        },
    }


def _row(schedule: ExportSchedule, run: dict | None = None) -> dict[str, Any]:
    return {"obj": schedule, "s": schedule_to_dict(schedule), "run": run}


@bp.route("/")
def index():
    return render_page("schedules/index.html", "schedules/partials/_list.html", **_list_context())


def _render_row(schedule: ExportSchedule, run: dict | None = None, status: int = 200):
    return render_fragment("schedules/partials/_row.html", status=status, row=_row(schedule, run))


def _row_or_page(schedule: ExportSchedule, run: dict | None = None):
    """An action's answer: the list's row, or the schedule page's panel when it came from there."""
    if schedule_page.is_page_target():
        return schedule_page.render_panel(schedule)
    return _render_row(schedule, run)


def _back_to_list(message: str, level: str = SUCCESS):
    return redirect_with_toast(url_for("schedules.index"), message, level)


@bp.route("/<schedule_id>/activate", methods=["POST"])
def activate(schedule_id: str):
    schedule = service.activate_schedule(get_scoped_or_404(ExportSchedule, schedule_id), current_user)
    message = f"“{schedule.name}” is active again."
    if not is_htmx():
        return _back_to_list(message)
    return toast(_row_or_page(schedule), message)


@bp.route("/<schedule_id>/deactivate", methods=["POST"])
def deactivate(schedule_id: str):
    schedule = service.deactivate_schedule(get_scoped_or_404(ExportSchedule, schedule_id), current_user)
    message = f"“{schedule.name}” is inactive: it will not run until you activate it."
    if not is_htmx():
        return _back_to_list(message)
    return toast(_row_or_page(schedule), message)


@bp.route("/<schedule_id>/delete", methods=["POST"])
def delete(schedule_id: str):
    schedule = get_scoped_or_404(ExportSchedule, schedule_id)
    name = schedule.name
    service.delete_schedule(schedule, current_user)
    message = f"“{name}” was deleted. Its past runs stay in the history."
    if not is_htmx() or schedule_page.is_page_target():
        return _back_to_list(message)
    # An empty answer swapped over the row removes it.
    return toast(vary_on_htmx(make_response("", 200)), message)


def _run_response(schedule: ExportSchedule, message: str, start):
    try:
        history = start(schedule, current_user)
    except ValidationError as exc:
        text = " ".join(m for messages in exc.errors.values() for m in messages)
        if not is_htmx():
            return _back_to_list(text, ERROR)
        return toast(_row_or_page(schedule), text, ERROR)
    except NotPossible as exc:
        if not is_htmx():
            return _back_to_list(str(exc), ERROR)
        return toast(_row_or_page(schedule), str(exc), ERROR)
    if not is_htmx():
        return redirect_with_toast(url_for("history.detail", history_id=history.id), message)
    return toast(_row_or_page(schedule, run=run_view(history)), message)


@bp.route("/<schedule_id>/run", methods=["POST"])
@run_limited
def run_now(schedule_id: str):
    schedule = get_scoped_or_404(ExportSchedule, schedule_id)
    return _run_response(
        schedule,
        f"“{schedule.name}” is running now; its status shows on the row.",
        lambda schedule, user: run_service.trigger_schedule(schedule, user, TRIGGER_MANUAL),
    )


@bp.route("/<schedule_id>/test", methods=["POST"])
@run_limited
def send_test(schedule_id: str):
    schedule = get_scoped_or_404(ExportSchedule, schedule_id)
    return _run_response(
        schedule,
        f"A test of “{schedule.name}” is on its way to {current_user.email} only.",
        run_service.send_test,
    )


# --------------------------------------------------------------------------------------------
# The form


def _form_context(
    values: dict[str, Any],
    *,
    schedule: ExportSchedule | None = None,
    errors: dict[str, list[str]] | None = None,
    nonce: str | None = None,
    auto: dict[str, str] | None = None,
) -> dict[str, Any]:
    business = require_business()
    raw_errors = dict(errors or {})
    errors = help.in_form_order(forms.errors_by_field(errors or {}, values))
    row_errors, list_errors = forms.address_errors(values["recipients"], errors, "recipients")
    preview = _preview(values)
    return {
        "business": business,
        "schedule": schedule,
        "values": values,
        "errors": errors,
        "row_errors": row_errors,
        "list_errors": list_errors,
        "nonce": nonce or forms.new_nonce(),
        "action": url_for("schedules.edit", schedule_id=schedule.id)
        if schedule is not None
        else url_for("schedules.new"),
        "preview": preview,
        "sentence": help.sentence(values, preview),
        "period_warning": help.period_warning(values),
        "shown_days": forms.shown_day_fields(values),
        "choices": form_choices(),
        # New schedules: the name and the period follow the choices until the person sets them.
        "auto": auto or {},
        "submitted": bool(errors),
        "period_for_frequency": PERIOD_FOR_FREQUENCY,
        "recipes": list_recipes() if schedule is None else [],
        "presets": preset_service.all_presets(business) if schedule is None else [],
        # Issue 19: the destinations part (its own partial, schedules/partials/_destinations.html).
        **destination_form.form_context(
            values.get("destination_items") or destination_form.form_items(None, schedule),
            schedule,
            raw_errors,
        ),
    }


def _auto_from_request() -> dict[str, str]:
    return {key: request.form.get(f"{key}_auto", "") for key in ("name", "period")}


def form_choices() -> dict[str, Any]:
    return {
        "export_type": forms.EXPORT_TYPE_CHOICES,
        "format": forms.FORMAT_CHOICES,
        "frequency": forms.FREQUENCY_CHOICES,
        "day_of_week": forms.WEEKDAY_CHOICES,
        "week_of_month": forms.WEEK_OF_MONTH_CHOICES,
        "day_of_month": forms.DAY_OF_MONTH_CHOICES,
        "date_range": forms.DATE_RANGE_CHOICES,
        "filter_labels": forms.FILTER_LABELS,
        "custom_dates": forms.CUSTOM_DATES,
    }


def _preview(values: dict[str, Any]) -> dict[str, Any]:
    """The next five runs for the form's timing, or the errors that stop computing them."""
    business = require_business()
    try:
        result = service.preview_occurrences(forms.preview_payload(values), business)
    except ValidationError as exc:
        return {"errors": [m for messages in exc.errors.values() for m in messages]}
    zone = ZoneInfo(result["timezone"])
    runs = []
    for occurrence in result["occurrences"]:
        utc = as_datetime(occurrence["utc"])
        runs.append({"utc": utc, "local": utc.astimezone(zone), "dst_shifted": occurrence["dst_shifted"]})
    return {"timezone": result["timezone"], "description": result.get("description", ""), "runs": runs}


def _render_form(context: dict[str, Any], status: int = 200):
    return render_page("schedules/form.html", "schedules/partials/_form.html", status=status, **context)


def _new_form_start(business) -> tuple[dict[str, Any], dict[str, str]]:
    """The new form's values: a recipe's or a preset's when one was picked, else the defaults;
    and which of them follow the other choices (a name nobody typed, a period nobody picked)."""
    recipe = get_recipe(request.args.get("recipe"))
    preset = (
        preset_service.get_preset(business, request.args.get("preset"))
        if request.args.get("preset")
        else None
    )
    if recipe is not None:
        return help.values_from_recipe(recipe, business), {}
    if preset is not None:
        return help.values_from_preset(preset, business), {"period": "1"}
    values = forms.new_schedule_values(business.timezone)
    values["name"] = help.suggested_name(values)
    return values, {"name": values["name"], "period": "1"}


@bp.route("/new", methods=["GET", "POST"])
def new():
    business = require_business()
    if request.method == "GET":
        values, auto = _new_form_start(business)
        return _render_form(_form_context(values, auto=auto))
    values = help.read_form(request.form, business)
    values["destination_items"] = destination_form.form_items(request.form, None)
    nonce = request.form.get("form_nonce")

    def create() -> str:
        payload = {**forms.schedule_payload(values), **destination_form.form_payload(request.form)}
        return str(service.create_schedule(business, current_user, payload).id)

    try:
        _, created = forms.once.run(nonce, create)
    except ValidationError as exc:
        context = _form_context(values, errors=exc.errors, nonce=nonce, auto=_auto_from_request())
        return _render_form(context, status=422)
    name = values["name"]
    message = f"Schedule “{name}” saved." if created else f"Schedule “{name}” was already saved."
    return redirect_with_toast(url_for("schedules.index"), message)


@bp.route("/<schedule_id>/edit", methods=["GET", "POST"])
def edit(schedule_id: str):
    business = require_business()
    schedule = service.get_schedule(business, schedule_id)
    if request.method == "GET":
        if schedule is None:
            abort(404)
        values = forms.schedule_form_values(service.schedule_values(schedule))
        return _render_form(_form_context(values, schedule=schedule))
    values = help.read_form(request.form, business)
    if schedule is None:
        return _stale_form(values)
    values["destination_items"] = destination_form.form_items(request.form, schedule)
    try:
        payload = {**forms.schedule_payload(values), **destination_form.form_payload(request.form)}
        service.update_schedule(schedule, current_user, payload)
    except ValidationError as exc:
        return _render_form(
            _form_context(values, schedule=schedule, errors=exc.errors, nonce=request.form.get("form_nonce")),
            status=422,
        )
    return redirect_with_toast(url_for("schedules.index"), f"Schedule “{schedule.name}” saved.")


def _stale_form(values: dict[str, Any]):
    """The schedule was deleted (in another tab, or by someone else) while this form was open."""
    if is_htmx():
        response = render_fragment("schedules/partials/_stale.html", status=404)
        response.headers["HX-Retarget"] = "#form-alert"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    context = _form_context(values)
    context["stale"] = True
    return _render_form(context, status=404)


@bp.route("/form/timing")
def form_timing():
    """The day fields for the chosen frequency (and monthly mode)."""
    business = require_business()
    values = help.read_form(request.args, business)
    return render_fragment(
        "schedules/partials/_timing_days.html",
        values=values,
        errors={},
        shown_days=forms.shown_day_fields(values),
        choices=form_choices(),
    )


@bp.route("/form/filters")
def form_filters():
    """The filters of the chosen export type (dates appear for "Custom dates…"); on a new schedule
    whose period nobody picked, the period that fits the frequency."""
    business = require_business()
    values = help.read_form(request.args, business)
    if request.args.get("period_auto") and not values["date_mode"]:
        values["date_mode"] = period_for_frequency(values["frequency"])
    hint = forms.export_period_hint(business.timezone) if request.args.get("form_kind") == "export" else None
    return render_fragment(
        "schedules/partials/_filters.html", values=values, errors={}, choices=form_choices(), period_hint=hint
    )


@bp.route("/form/timezones")
def form_timezones():
    """Timezones matching what is typed in the timezone box ("London" finds Europe/London)."""
    query = request.args.get("timezone", "")
    exact = is_timezone_name(query.strip())
    names = [] if exact else search_timezones(query)
    return render_fragment(
        "schedules/partials/_timezone_options.html",
        options=[{"name": name, "city": city(name), "offset": utc_offset(name)} for name in names],
        query=query,
        exact=exact,
    )


@bp.route("/presets", methods=["POST"])
def save_preset():
    """Save the form's what-to-export (type, format, filters) as a preset of the business."""
    business = require_business()
    values = help.read_form(request.form, business)
    payload = forms.schedule_payload(values)
    data = {
        "name": request.form.get("preset_name", ""),
        "export_type": payload["export_type"],
        "format": payload["format"],
        "filters": payload["filters"],
    }
    try:
        preset = preset_service.create_preset(business, current_user, data)
    except ValidationError as exc:
        messages = [m for field_messages in exc.errors.values() for m in field_messages]
        return render_fragment("schedules/partials/_preset_saved.html", errors=messages)
    message = f"Preset “{preset.name}” saved: everyone in {business.name} can start a schedule from it."
    return toast(render_fragment("schedules/partials/_preset_saved.html", preset=preset, errors=[]), message)


@bp.route("/form/recipient")
def form_recipient():
    """One more (empty) recipient input."""
    list_name = "default_recipients" if request.args.get("list") == "default_recipients" else "recipients"
    return render_fragment(
        "schedules/partials/_recipient.html", address="", index=forms.new_nonce()[:8], list_name=list_name
    )


@bp.route("/preview", methods=["POST"])
def preview():
    """The sentence, the period warning and the next runs for the form as it stands, with the
    live check of the fields touched so far (app.js shows those beside their fields)."""
    business = require_business()
    values = help.read_form(request.form, business)
    preview = _preview(values)
    live = {
        "errors": help.live_errors(
            values,
            business,
            help.touched_fields(request.form.get("touched")),
            submitted=request.form.get("submitted") == "1",
        ),
        "suggested_name": help.suggested_name(values) if request.form.get("name_auto") else "",
    }
    return render_fragment(
        "schedules/partials/_preview.html",
        preview=preview,
        sentence=help.sentence(values, preview),
        period_warning=help.period_warning(values),
        live=live,
    )


@bp.route("/validate/recipient")
def validate_recipient():
    """Only the error text for one address ("" when it is fine), as the service words it."""
    values = [value for _, value in request.args.items(multi=True)]
    errors = ErrorCollector()
    for value in values:
        clean_email(errors, "recipients", value)
    return render_fragment(
        "schedules/partials/_recipient_error.html", messages=errors.errors.get("recipients", [])
    )
