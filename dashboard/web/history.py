"""History: the runs table with filters and pages, live rows while a run works, the detail view,
"Run again for the same period", and the file download for signed-in people.

A PENDING or PROCESSING row renders with `hx-trigger="load delay:1s"` and asks for itself again;
once the run has finished the row renders without it, so the polling stops by itself.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from flask import Blueprint, abort, current_app, g, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.exceptions import ServiceUnavailable

from dashboard.core.content_cache import ContentCache
from dashboard.core.csrf_tokens import kept_csrf_token
from dashboard.core.display import datetime_display
from dashboard.core.errors import NotPossible, PageNotFound, ValidationError
from dashboard.core.labels import EXPORT_TYPE_LABELS, FORMAT_LABELS, STATUS_LABELS, TRIGGER_LABELS
from dashboard.models.automation import (
    EXPORT_TYPES,
    FORMATS,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_PROCESSING,
    STATUSES,
    TRIGGER_MANUAL,
    TRIGGERS,
    ExportHistory,
    formats_of,
)
from dashboard.services import history as service
from dashboard.services import runs as run_service
from dashboard.services import schedules as schedule_service
from dashboard.services.downloads import (
    STORAGE_RETRY_AFTER_SECONDS,
    STORAGE_UNAVAILABLE_MESSAGE,
    send_export_file,
)
from dashboard.services.keyset import CursorPage, encode_cursor
from dashboard.services.presenters import history_to_dict, iso_utc
from dashboard.services.validation import validate_history_params
from dashboard.storage import ExportFileNotFound, StorageError, StorageUnavailable
from dashboard.storage.run_files import file_for
from dashboard.tenancy import current_business, get_scoped_or_404, require_business
from dashboard.web.common import (
    ERROR,
    is_htmx,
    redirect_with_toast,
    render_fragment,
    render_page,
    toast,
)
from dashboard.web.failure_view import failure_view
from dashboard.web.kept_pages import render_kept_page
from dashboard.web.limits import run_limited

bp = Blueprint("history", __name__, url_prefix="/history")

FILTERS = service.LIST_FILTERS  # the filters the page offers are the ones the list service reads
RUNNING = (STATUS_PENDING, STATUS_PROCESSING)
PAGE_SIZE = 20


@bp.before_request
@login_required
def _signed_in():
    require_business()


_ID = "00000000-0000-0000-0000-000000000000"
RUN_LINKS = ("row", "detail", "download", "rerun")


class _RowContext:
    """What every row of a request shares, worked out once a request: the links' patterns (url_for
    for each of a row's links cost a fifth of a history page) and the business's timezone."""

    def __init__(self) -> None:
        self.link_patterns = _link_patterns(request.script_root)
        business = current_business()
        self.timezone = business.timezone if business else "UTC"


@lru_cache(maxsize=8)
def _link_patterns(script_root: str) -> dict[str, str]:
    """A run's page links with a placeholder id, the same for every request of an app root."""
    return {name: url_for(f"history.{name}", history_id=_ID) for name in RUN_LINKS}


def _row_context() -> _RowContext:
    context = g.get("history_row_context")
    if context is None:
        context = g.history_row_context = _RowContext()
    return context


def _started(created_at: Any, timezone: str) -> dict[str, str] | None:
    """When a run started, as the rows show it (what _ui.html's `when` writes): ISO 8601 UTC,
    the UTC time on hover, the time in the business's timezone. Worked out here once a row: as
    template filters they were a fifth of a history page's render time."""
    if created_at is None:
        return None
    return {
        "iso": iso_utc(created_at),
        "utc": datetime_display(created_at, "UTC"),
        "local": datetime_display(created_at, timezone),
    }


def run_view(history: ExportHistory, detail: bool = False) -> dict[str, Any]:
    """What the templates read for one run: the API's representation, a running flag and the
    run's page links (`links.detail`, `links.row`, `links.download`, `links.rerun`)."""
    run = history_to_dict(history, detail=detail)
    run["running"] = history.status in RUNNING
    if history.status == STATUS_FAILED:
        run["failure"] = failure_view(history.failure_category, history.error_message)
    context = _row_context()
    run["started"] = _started(history.created_at, context.timezone)
    run_id = run["id"]
    run["links"] = {name: pattern.replace(_ID, run_id) for name, pattern in context.link_patterns.items()}
    for run_file in run["files"]:  # each file's page download (the first is also links.download)
        run_file["link"] = f"{run['links']['download']}?format={run_file['format']}"
    return run


# Rendered rows, kept by the run's whole content, the business's timezone and the links' pattern
# (see core/content_cache.py): a page of runs shown before renders only its frame. The rows' form
# token is a placeholder in what is kept, replaced by the person's own token on every page.
_ROWS = ContentCache(0)
_ROW_CSRF = Markup("<!--row-csrf-->")  # escaped text can never hold it: "<" is always &lt;


def rows_html(runs: list[service.ListedRun]) -> Markup:
    """The table rows (_rows.html) of a page of listed runs."""
    kept = _ROWS.sized(service.kept_rows_size())
    context = _row_context()
    scope = (context.timezone, context.link_patterns["row"])
    template = current_app.jinja_env.get_template("history/partials/_rows.html")
    parts = [
        kept.get_or_make(
            None if run.content_key is None else (run.content_key, *scope),
            lambda run=run: template.render(runs=[run_view(run)], row_csrf=_ROW_CSRF),
        )
        for run in runs
    ]
    # The newline the one-loop template wrote before its first row: the same page, byte for byte.
    return Markup("\n" + "".join(parts).replace(_ROW_CSRF, escape(kept_csrf_token())))


# --------------------------------------------------------------------------------------------
# The table


def _arg(key: str) -> str:
    """A query parameter as given, "" when absent. `in` first: MultiDict.get builds a
    BadRequestKeyError for every absent key (a dozen a page)."""
    return request.args[key] if key in request.args else ""


def _params() -> tuple[dict[str, Any], dict[str, list[str]]]:
    args = {key: _arg(key) for key in (*FILTERS, "page", "cursor")}
    try:
        return validate_history_params(args), {}
    except ValidationError as exc:
        usable = {key: value for key, value in args.items() if key not in exc.errors}
        if "end_date" in exc.errors:  # "end before start" names end_date only: drop both dates
            usable.pop("start_date", None)
        return validate_history_params(usable), exc.errors


def _list_context() -> dict[str, Any]:
    business = require_business()
    params, param_errors = _params()
    # Counted only when the page's rows do not carry the count (runs_page).
    count = partial(service.count_history, business, params)
    stmt = service.list_runs_query(business, params)
    try:
        found = service.runs_page(stmt, params["page"], params["cursor"], PAGE_SIZE, count)
    except PageNotFound as past:
        # A page past the end (runs were cleaned up since the link was made): the last page.
        last = max(1, -(-past.total // PAGE_SIZE))
        found = service.runs_page(stmt, last, None, PAGE_SIZE, past.total)
    args = {key: value for key in FILTERS if (value := _arg(key))}
    return {
        "business": business,
        "runs": service.listed_runs(found.items),
        "page": RunsPager(found, found.total or 0, PAGE_SIZE),
        "args": args,
        "filtered": bool(args),
        "param_errors": param_errors,
    }


class RunsPager:
    """What the pager under the history table shows: "Newer"/"Older" links carrying cursors, and
    "Page X of Y" from the kept counts (a cursor knows which page it leads to)."""

    def __init__(self, found: CursorPage, total: int, page_size: int) -> None:
        self.total = total
        self.pages = max(1, -(-total // page_size))
        self.page = min(found.page, self.pages)
        self.newer = encode_cursor(found.previous) if found.previous else None
        self.older = encode_cursor(found.next) if found.next else None

    def key(self) -> tuple[Any, ...]:
        return (self.total, self.pages, self.page, self.newer, self.older)


# The filters' fixed choices (the schedules are the business's own: services.schedules.schedule_names).
_CHOICES = {
    "export_type": tuple((t, EXPORT_TYPE_LABELS.get(t, t)) for t in EXPORT_TYPES),
    "format": tuple((f, FORMAT_LABELS.get(f, f)) for f in FORMATS),
    "status": tuple((s, STATUS_LABELS.get(s, s)) for s in STATUSES),
    "trigger": tuple((t, TRIGGER_LABELS.get(t, t)) for t in TRIGGERS),
}
# The filter form, kept by what it shows: the filters' values, the schedules to choose from and
# the app's root. Bounded: odd values in a URL only push out other kept forms.
_FORMS = ContentCache(128)


def filters_html(args: dict[str, str], schedules: tuple[tuple[str, str], ...]) -> Markup:
    """The filter form above the table (history/partials/_filters.html)."""
    key = (tuple(sorted(args.items())), schedules, request.script_root)

    def rendered() -> Markup:
        template = current_app.jinja_env.get_template("history/partials/_filters.html")
        return Markup(template.render(args=args, choices={**_CHOICES, "schedule_id": schedules}))

    return _FORMS.get_or_make(key, rendered)


def _page_key(context: dict[str, Any], schedules: tuple | None) -> tuple[Any, ...] | None:
    """Everything the table (and the filter form above it) is made of, or None when a run on the
    page cannot be keyed (then the page is rendered, and not kept)."""
    runs = tuple(run.content_key for run in context["runs"])
    if None in runs:
        return None
    errors = tuple((field, tuple(messages)) for field, messages in context["param_errors"].items())
    timezone = context["business"].timezone
    return (runs, timezone, context["page"].key(), tuple(sorted(context["args"].items())), errors, schedules)


@bp.route("/")
def index():
    context = _list_context()
    # An htmx request swaps the table only: the filter form is already on the page.
    schedules = None if is_htmx() else schedule_service.schedule_names(context["business"])

    def rendered() -> dict[str, Any]:
        context["rows_html"] = rows_html(context["runs"])
        if schedules is not None:
            context["filters_html"] = filters_html(context["args"], schedules)
        return context

    key = _page_key(context, schedules)
    return render_kept_page("history/index.html", "history/partials/_list.html", key, rendered)


@bp.route("/<history_id>/row")
def row(history_id: str):
    """One table row (what a running row polls)."""
    return render_fragment(
        "history/partials/_row.html", run=run_view(get_scoped_or_404(ExportHistory, history_id))
    )


@bp.route("/<history_id>/status")
def status(history_id: str):
    """The compact status of one run (what a schedule row or the export page polls)."""
    return render_fragment(
        "history/partials/_status.html", run=run_view(get_scoped_or_404(ExportHistory, history_id))
    )


@bp.route("/<history_id>")
def detail(history_id: str):
    history = get_scoped_or_404(ExportHistory, history_id)
    return render_page(
        "history/detail.html",
        "history/partials/_detail.html",
        run=run_view(history, detail=True),
        history=history,
        business=require_business(),
    )


@bp.route("/<history_id>/rerun", methods=["POST"])
@run_limited
def rerun(history_id: str):
    history = get_scoped_or_404(ExportHistory, history_id)
    try:
        new_run = run_service.rerun(history, current_user, TRIGGER_MANUAL)
    except (NotPossible, ValidationError) as exc:
        message = _message(exc)
        if not is_htmx():
            return redirect_with_toast(url_for("history.detail", history_id=history.id), message, ERROR)
        return toast(render_fragment("history/partials/_row.html", run=run_view(history)), message, ERROR)
    message = "Running it again for the same period."
    if not is_htmx() or request.args.get("from") == "detail":
        return redirect_with_toast(url_for("history.detail", history_id=new_run.id), message)
    # From the table: the new run's row goes on top of the table (hx-target="#history-rows").
    return toast(render_fragment("history/partials/_row.html", run=run_view(new_run)), message)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(m for messages in exc.errors.values() for m in messages)
    return str(exc) or "This is not possible in its current state."


@bp.route("/<history_id>/download")
def download(history_id: str):
    """The file (the run's first, or with `?format=` its file in that format), for a signed-in
    member of the business; audited as export.download."""
    history = get_scoped_or_404(ExportHistory, history_id)
    fmt = request.args.get("format") or None
    if fmt is not None and fmt not in formats_of(history):
        abort(404)
    run_file = file_for(history, fmt)
    if run_file is None or not run_file.downloadable(history):
        abort(409, "This export has no file to download: it did not finish, or its file was cleaned up.")
    try:
        return send_export_file(history, user_id=current_user.id, via="from the dashboard", run_file=run_file)
    except StorageUnavailable:
        raise ServiceUnavailable(
            STORAGE_UNAVAILABLE_MESSAGE, retry_after=STORAGE_RETRY_AFTER_SECONDS
        ) from None
    except (ExportFileNotFound, StorageError):
        abort(409, "The file of this export is no longer available (it was cleaned up). Run it again.")
