"""The destinations part of the schedule form (issue 19): add and remove destinations, and "send a
test" to a saved one. The form's own page includes `schedules/partials/_destinations.html`; the
save goes through the schedule services like every other field.

Form fields: a hidden `destinations` input per row holds the row's key (its order is the list's
order); the row's fields are `destinations-<key>-<field>`. A secret input left empty keeps the
stored secret (write-only: never rendered back into the page).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, request
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from dashboard.core.errors import ValidationError
from dashboard.destinations.channels import CHANNELS, get_channel
from dashboard.models.automation import ExportSchedule
from dashboard.services import destinations as service
from dashboard.tenancy import get_scoped_or_404, require_business
from dashboard.web.common import render_fragment
from dashboard.web.limits import run_limited

bp = Blueprint("destinations", __name__, url_prefix="/schedules")

KIND_CHOICES = [
    ("webhook", "Webhook"),
    ("slack", "Slack"),
    ("teams", "Microsoft Teams"),
    ("sftp", "SFTP"),
    ("s3", "S3 bucket"),
]
LABELS = {
    "url": "URL",
    "secret": "Signing secret",
    "host": "Host",
    "port": "Port",
    "username": "User name",
    "password": "Password",
    "private_key": "Private key (instead of a password)",
    "path": "Folder",
    "host_key_fingerprint": "Host key fingerprint",
    "bucket": "Bucket",
    "prefix": "Prefix",
    "region": "Region",
    "endpoint_url": "Endpoint URL (empty: AWS)",
    "access_key_id": "Access key ID",
    "secret_access_key": "Secret access key",
}
HINTS = {
    ("slack", "url"): "The incoming-webhook URL from your Slack app (https://hooks.slack.com/services/...).",
    (
        "teams",
        "url",
    ): 'The URL of a Teams Workflows "webhook request" trigger, or an incoming-webhook connector.',
    ("webhook", "secret"): "Receivers check the X-Export-Signature header with it (see the docs).",
    (
        "sftp",
        "host_key_fingerprint",
    ): "Optional: SHA256:... as ssh-keygen -lf shows it. Empty: pinned on save.",
}


@bp.before_request
@login_required
def _signed_in():
    require_business()


def destinations_from_form(form: MultiDict) -> list[dict[str, Any]]:
    """The destination rows of a submitted schedule form, in order, as the services take them."""
    items = []
    for key in form.getlist("destinations"):
        prefix = f"destinations-{key}-"
        kind = form.get(prefix + "kind", "")
        item: dict[str, Any] = {"kind": kind}
        if form.get(prefix + "id"):
            item["id"] = form[prefix + "id"]
        if kind in CHANNELS:
            for spec in get_channel(kind).fields:
                value = form.get(prefix + spec.name)
                if value is None or value.strip() == "":
                    continue  # empty: the default, or the kept secret
                if spec.type is int:
                    try:
                        item[spec.name] = int(value)
                    except ValueError:
                        item[spec.name] = value  # the service says "Enter a whole number."
                else:
                    item[spec.name] = value
        items.append(item)
    return items


def rows_for(
    items: list[dict[str, Any]], stored: list[dict] | None, errors: dict[str, list[str]] | None
) -> list[dict]:
    """What the partial draws: one row per destination with its shown values, which secrets are
    set, and its errors (`destinations.<index>.<field>` keys)."""
    shown_stored = {d["id"]: d for d in service.represent_destinations(stored or [])}
    rows = []
    for index, item in enumerate(items):
        kind = item.get("kind")
        saved = shown_stored.get(item.get("id") or "")
        values = {**(saved or {}), **{k: v for k, v in item.items() if k not in _secrets(kind)}}
        prefix = f"destinations.{index}"
        row_errors = {
            key[len(prefix) + 1 :] or "_row": messages
            for key, messages in (errors or {}).items()
            if key == prefix or key.startswith(prefix + ".")
        }
        rows.append(_row(kind, values, saved, row_errors))
    return rows


def _secrets(kind: str | None) -> tuple[str, ...]:
    return get_channel(kind).secret_fields() if kind in CHANNELS else ()


def _row(kind: str | None, values: dict, saved: dict | None, errors: dict) -> dict:
    fields = []
    if kind in CHANNELS:
        for spec in get_channel(kind).fields:
            fields.append(
                {
                    "name": spec.name,
                    "label": LABELS.get(spec.name, spec.name),
                    "hint": HINTS.get((kind, spec.name), ""),
                    "secret": spec.secret,
                    "required": spec.required,
                    "multiline": spec.name == "private_key",
                    "number": spec.type is int,
                    "value": ""
                    if spec.secret
                    else (values.get(spec.name) if values.get(spec.name) is not None else ""),
                    "is_set": bool(saved and spec.name in saved.get("secrets_set", [])),
                }
            )
    return {
        "key": uuid.uuid4().hex[:12],
        "kind": kind,
        "kind_label": dict(KIND_CHOICES).get(kind or "", kind),
        "id": (saved or {}).get("id") or values.get("id") or "",
        "saved": saved is not None,
        "target": (saved or {}).get("target", ""),
        "fingerprint": (saved or {}).get("host_key_fingerprint") if kind == "sftp" else None,
        "fields": fields,
        "errors": errors,
    }


@bp.get("/destinations/row")
def new_row():
    """A new, empty destination row of the chosen kind (htmx appends it to the list)."""
    kind = request.args.get("kind") or request.args.get("new_destination_kind") or KIND_CHOICES[0][0]
    if kind not in CHANNELS:
        abort(404)
    return render_fragment("schedules/partials/_destination_row.html", row=_row(kind, {}, None, {}))


@bp.post("/<schedule_id>/destinations/<destination_id>/test")
@run_limited
def send_test(schedule_id: str, destination_id: str):
    schedule = get_scoped_or_404(ExportSchedule, schedule_id)
    try:
        delivered, message = service.send_test(schedule, destination_id)
    except ValidationError as exc:
        delivered, message = False, " ".join(m for ms in exc.errors.values() for m in ms)
    return render_fragment("schedules/partials/_destination_test.html", delivered=delivered, message=message)


def form_payload(form: MultiDict) -> dict[str, Any]:
    """The schedule payload's `destinations` and `file_password` from the submitted form. Only
    when the form carried the destinations part: a form without it never clears them."""
    payload: dict[str, Any] = {}
    if form.get("destinations_present"):
        payload["destinations"] = destinations_from_form(form)
    if form.get("remove_file_password"):
        payload["file_password"] = ""
    elif form.get("file_password"):
        payload["file_password"] = form["file_password"]
    return payload


def form_items(form: MultiDict | None, schedule: ExportSchedule | None) -> list[dict[str, Any]]:
    """The destination rows to draw: the submitted ones, else the saved ones."""
    if form is not None and form.get("destinations_present"):
        return destinations_from_form(form)
    return service.represent_destinations(schedule.destinations if schedule is not None else [])


def form_context(
    items: list[dict[str, Any]], schedule: ExportSchedule | None, errors: dict[str, list[str]] | None
) -> dict[str, Any]:
    """What `_destinations.html` needs inside the schedule form's context."""
    return {
        "destination_rows": rows_for(items, schedule.destinations if schedule is not None else [], errors),
        "destination_kinds": KIND_CHOICES,
        "file_password_set": bool(schedule is not None and schedule.file_password),
        "file_password_errors": list((errors or {}).get("file_password", [])),
    }
