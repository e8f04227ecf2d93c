"""A schedule's destinations besides e-mail (contract section 6): validation of what a client
sends, secrets encrypted and write-only, what the API and the form show, and "send a test".

Stored form, in `ExportSchedule.destinations`: `[{"id", "kind", <the kind's fields>}]` where each
secret field holds a Fernet token (dashboard/core/secrets.py). A client identifies an
existing destination by its `id` (or, without one, by its position and kind) so that an update
that leaves a secret out keeps the stored one.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from typing import Any

from dashboard.core.errors import ErrorCollector, ValidationError
from dashboard.core.secrets import SecretBox
from dashboard.destinations.channels import CHANNELS, Channel, SendContext, get_channel
from dashboard.destinations.config import outbound_policy, plain_config, secret_box, target_of
from dashboard.destinations.content import DeliveryContent, FileLink
from dashboard.destinations.errors import DestinationError, SecretUnreadable

MAX_DESTINATIONS = 10
KINDS: tuple[str, ...] = tuple(sorted(CHANNELS))
# Keys a client may echo back from what the API showed it: ignored, never an unknown field.
READ_ONLY_KEYS = ("target", "secrets_set")
# Where a failed outbound check is shown (the field that names the far end).
_CHECKED_FIELD = {"webhook": "url", "slack": "url", "teams": "url", "sftp": "host", "s3": "endpoint_url"}
# Which fields, when changed, mean the far end must be checked (and an SFTP host key pinned) again.
_ADDRESS_FIELDS = {
    "webhook": ("url",),
    "slack": ("url",),
    "teams": ("url",),
    "sftp": ("host", "port", "host_key_fingerprint"),
    "s3": ("endpoint_url",),
}


def _clean_value(spec, value: Any, field: str, errors: ErrorCollector) -> Any:
    if spec.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.add(field, "Enter a whole number.")
            return None
        if spec.name == "port" and not 1 <= value <= 65535:
            errors.add(field, "Enter a port from 1 to 65535.")
            return None
        return value
    if not isinstance(value, str):
        errors.add(field, "Enter text.")
        return None
    value = value if spec.name == "private_key" else value.strip()
    if len(value) > spec.max_length:
        errors.add(field, f"Use at most {spec.max_length} characters.")
        return None
    if "\x00" in value:
        errors.add(field, "Remove the control characters.")
        return None
    return value


def _previous_for(item: dict, index: int, kind: str, stored: list[dict]) -> dict | None:
    if item.get("id"):
        found = next((d for d in stored if d.get("id") == str(item["id"])), None)
        return found if found is not None and found.get("kind") == kind else None
    if index < len(stored) and stored[index].get("kind") == kind:
        return stored[index]
    return None


def clean_destination_items(
    raw: Any, errors: ErrorCollector, name: str = "destinations"
) -> list[dict] | None:
    """What can be judged in a request alone: a list of at most MAX_DESTINATIONS objects, each of
    a known kind with only its own fields, each value of its type and length. Returns the items
    with plain (not yet encrypted) values; errors under `<name>.<index>.<field>`."""
    if not isinstance(raw, list):
        errors.add(name, "Give a list of destinations.")
        return None
    if len(raw) > MAX_DESTINATIONS:
        errors.add(name, f"Use at most {MAX_DESTINATIONS} destinations.")
        return None
    items: list[dict] = []
    for index, item in enumerate(raw):
        prefix = f"{name}.{index}"
        if not isinstance(item, dict):
            errors.add(prefix, "Each destination is an object with a kind.")
            continue
        kind = item.get("kind")
        if not isinstance(kind, str) or kind not in CHANNELS:  # {} as a kind was a 500 (unhashable)
            errors.add(f"{prefix}.kind", f"Choose one of: {', '.join(KINDS)}.")
            continue
        channel = get_channel(kind)
        known = {"id", "kind", *READ_ONLY_KEYS, *(spec.name for spec in channel.fields)}
        for key in item:
            if key not in known:
                errors.add(f"{prefix}.{key}", "Unknown field.")
        cleaned: dict[str, Any] = {"kind": kind}
        if item.get("id") is not None:
            if not isinstance(item["id"], str) or len(item["id"]) > 64:
                errors.add(f"{prefix}.id", "Not a destination id of this schedule.")
            else:
                cleaned["id"] = item["id"]
        for spec in channel.fields:
            value = item.get(spec.name)
            if value is None or value == "":
                continue
            value = _clean_value(spec, value, f"{prefix}.{spec.name}", errors)
            if value is not None:
                cleaned[spec.name] = value
        items.append(cleaned)
    return items


def store_destinations(
    items: list[dict] | None, stored: list[dict] | None = None, *, check: bool = True
) -> list[dict[str, Any]]:
    """Cleaned items -> the list to store: matched to the stored destinations (by `id`, else by
    position and kind) so that left-out secrets are kept, new secrets encrypted, required fields
    present; `check`: the far end of each new or re-addressed destination is resolved and checked
    now (outbound safety) and an SFTP server's host key pinned. Raises ValidationError."""
    stored = list(stored or [])
    box = secret_box()
    errors = ErrorCollector()
    result: list[dict[str, Any]] = []
    for index, item in enumerate(items or []):
        prefix = f"destinations.{index}"
        kind = item["kind"]
        channel = get_channel(kind)
        previous = _previous_for(item, index, kind, stored)
        values: dict[str, Any] = {"id": previous["id"] if previous else str(uuid.uuid4()), "kind": kind}
        for spec in channel.fields:
            value = item.get(spec.name)
            if value is None:
                if spec.secret and previous and previous.get(spec.name):
                    values[spec.name] = previous[spec.name]  # write-only: kept when left out
                elif spec.name == "host_key_fingerprint" and previous:
                    values[spec.name] = previous.get(spec.name) or ""
                elif spec.required:
                    errors.add(f"{prefix}.{spec.name}", "This field is required.")
                else:
                    values[spec.name] = spec.default
                continue
            values[spec.name] = box.encrypt(value) if spec.secret else value
        if kind == "sftp" and not values.get("password") and not values.get("private_key"):
            errors.add(f"{prefix}.password", "Give a password or a private key.")
        if errors:
            continue
        if check:
            _check(channel, values, previous, box, prefix, errors)
        result.append(values)
    errors.raise_if_any()
    return result


def validate_destinations(
    raw: Any, stored: list[dict] | None = None, *, check: bool = True
) -> list[dict[str, Any]]:
    """`clean_destination_items` then `store_destinations`: what a client sent as `destinations`
    -> the list to store. Raises ValidationError with `destinations.<index>.<field>` keys."""
    errors = ErrorCollector()
    items = clean_destination_items([] if raw is None else raw, errors)
    errors.raise_if_any()
    return store_destinations(items, stored, check=check)


def _check(
    channel: Channel, values: dict, previous: dict | None, box: SecretBox, prefix: str, errors: ErrorCollector
) -> None:
    fields = _ADDRESS_FIELDS[channel.kind]
    unchanged = previous is not None and all(previous.get(f) == values.get(f) for f in fields)
    if channel.kind in ("slack", "teams") and previous is not None:
        # The URL is stored encrypted (a fresh token each time): compare what it says.
        unchanged = _plain(previous.get("url"), box) == _plain(values.get("url"), box)
    if unchanged and (channel.kind != "sftp" or values.get("host_key_fingerprint")):
        return
    try:
        found = channel.check(plain_config(values, box), outbound_policy())
    except DestinationError as exc:
        errors.add(f"{prefix}.{_CHECKED_FIELD[channel.kind]}", exc.message)
        return
    values.update(found)


def _plain(token: str | None, box: SecretBox) -> str | None:
    if not token:
        return None
    try:
        return box.decrypt(token)
    except SecretUnreadable:
        return None


def represent_destinations(stored: list[dict] | None) -> list[dict[str, Any]]:
    """What the API and the form show: every field but the secrets, the target as history shows
    it, and which secrets are set."""
    shown = []
    for destination in stored or []:
        channel = get_channel(destination["kind"])
        secrets = channel.secret_fields()
        item = {"id": destination.get("id"), "kind": destination["kind"]}
        for spec in channel.fields:
            if spec.name not in secrets:
                item[spec.name] = destination.get(spec.name, spec.default)
        item["target"] = target_of(destination)
        item["secrets_set"] = [name for name in secrets if destination.get(name)]
        shown.append(item)
    return shown


def _test_content(schedule, business_name: str) -> DeliveryContent:
    body = (
        b"This is a test from Export Automation: the destination works. "
        b"Real runs send the export's files here.\n"
    )

    def opener():
        return contextlib.nullcontext(io.BytesIO(body))

    test_file = FileLink("txt", "export-automation-test.txt", len(body), _base_url() + "/", opener)
    return DeliveryContent(
        run={"id": None, "schedule": str(schedule.id), "schedule_name": schedule.name, "status": "TEST"},
        files=(test_file,),
        business_name=business_name,
        schedule_name=schedule.name,
        title="Test delivery",
        test=True,
    )


def _base_url() -> str:
    from dashboard.base_url import external_base_url

    return external_base_url()


def send_test(schedule, destination_id: str) -> tuple[bool, str]:
    """Deliver a test message to one saved destination now: (delivered, what to tell the user)."""
    destination = next((d for d in schedule.destinations or [] if d.get("id") == destination_id), None)
    if destination is None:
        raise ValidationError({"destination": ["No such destination on this schedule (save it first)."]})
    channel = get_channel(destination["kind"])
    try:
        config = plain_config(destination)
        channel.deliver(
            _test_content(schedule, schedule.business.name),
            config,
            SendContext(outbound_policy(), f"test-{uuid.uuid4()}:{destination_id}"),
        )
    except SecretUnreadable as exc:
        return False, str(exc)
    except DestinationError as exc:
        return False, f"The test to {target_of(destination)} failed: {exc.message}"
    return True, f"Test delivered to {target_of(destination)}."


def rotate_secrets() -> tuple[int, int]:
    """Re-encrypt every stored destination secret and file password with the first key of
    DESTINATIONS_SECRET_KEYS: (schedules rewritten, secrets rewritten). A secret no key reads
    stops the command before anything is written (docs/operations.md)."""
    from sqlalchemy import select

    from dashboard.extensions import db
    from dashboard.models.automation import ExportSchedule

    box = secret_box()
    schedules = secrets = 0
    try:
        schedules, secrets = _rotate_all(box, db.session.scalars(select(ExportSchedule)))
    except SecretUnreadable:
        db.session.rollback()
        raise
    db.session.commit()
    return schedules, secrets


def _rotate_all(box: SecretBox, all_schedules) -> tuple[int, int]:
    schedules = secrets = 0
    for schedule in all_schedules:
        rewritten = []
        for destination in schedule.destinations or []:
            destination = dict(destination)
            for name in get_channel(destination["kind"]).secret_fields():
                if destination.get(name):
                    destination[name] = box.rotate(destination[name])
                    secrets += 1
            rewritten.append(destination)
        password = box.rotate(schedule.file_password) if schedule.file_password else ""
        secrets += 1 if password else 0
        if rewritten or password:
            schedule.destinations = rewritten
            schedule.file_password = password
            schedules += 1
    return schedules, secrets


def store_schedule_secrets(values: dict[str, Any], data: object, schedule=None) -> dict[str, Any]:
    """After `validate_schedule`: `destinations` and `file_password` as they are stored. A field
    the request left out keeps the schedule's stored value; a new schedule's are checked and
    encrypted. Raises ValidationError (destinations.<index>.<field>, file_password)."""
    from dashboard.services.protection import clean_file_password

    sent = data if isinstance(data, dict) else {}
    stored = [dict(d) for d in (schedule.destinations or [])] if schedule is not None else []
    if schedule is None or "destinations" in sent:
        values["destinations"] = store_destinations(values.get("destinations") or [], stored)
    else:
        values["destinations"] = stored
    stored_password = schedule.file_password if schedule is not None else ""
    if "file_password" in sent:
        values["file_password"] = clean_file_password(sent["file_password"], stored_password)
    else:
        values["file_password"] = stored_password or ""
    return values


def audit_value(field: str, value: Any) -> Any:
    """What the audit log records for these fields: targets, never a secret."""
    if field == "destinations":
        return [f"{d['kind']}: {target_of(d)}" for d in value or []]
    if field == "file_password":
        return "set" if value else "not set"
    return value
