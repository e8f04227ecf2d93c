"""Starting runs: run now, a test send, a rerun, a one-off export and the CLI's export.

The only way the pages, the JSON API and the CLI start a run: each checks its input, creates the
PENDING history row (`automation.history_rows`), admits it to the business's queue
(`fairness.admit`: over ``EXPORT_MAX_QUEUED_PER_BUSINESS`` it raises `QueueFull`, nothing
created), writes its audit entry and hands it to the runner. The scheduler's own runs are claimed
by the runner itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select

from dashboard.automation import dispatch, fairness
from dashboard.automation.execution import run_history
from dashboard.automation.history_rows import history_row, rerun_row
from dashboard.automation.runner import touch_last_run
from dashboard.extensions import db
from dashboard.models.automation import (
    FINISHED_STATUSES,
    TRIGGER_MANUAL,
    ExportHistory,
    ExportSchedule,
)
from dashboard.models.pos import Business, User
from dashboard.services.audit import record_audit
from dashboard.services.notifications import check_allowed_recipients
from dashboard.services.validation import validate_one_off_export, validate_trigger

__all__ = [
    "rerun",
    "run_export_now",
    "send_test",
    "start_one_off_export",
    "start_one_off_request",
    "trigger_schedule",
    "trigger_schedule_request",
]

CLI_WAIT_SECONDS = 0.5  # between tries while the business is at its concurrency cap


def _user_id(user: User | None) -> uuid.UUID | None:
    return user.id if user is not None else None


def _admit(history: ExportHistory) -> ExportHistory:
    """Add the new run to the session and to its business's queue (raises `QueueFull`)."""
    db.session.add(history)
    db.session.flush()
    fairness.admit(history.business_id, history.trigger)
    return history


def _schedule_run(
    schedule: ExportSchedule,
    user: User | None,
    trigger: str,
    *,
    send_email: bool,
    override_recipients: list[str] | None,
    is_test: bool = False,
) -> ExportHistory:
    return ExportHistory(
        **history_row(
            business_id=schedule.business_id,
            export_type=schedule.export_type,
            fmt=schedule.format,
            formats=schedule.formats,
            trigger=trigger,
            filters=schedule.filters,
            schedule_id=schedule.id,
            schedule_name=schedule.name,
            user_id=_user_id(user),
            send_email=send_email,
            override_recipients=override_recipients,
            is_test=is_test,
        )
    )


def trigger_schedule(
    schedule: ExportSchedule,
    user: User | None,
    trigger: str = TRIGGER_MANUAL,
    *,
    send_email: bool = True,
    override_recipients: list[str] | None = None,
) -> ExportHistory:
    """Run a schedule now (also an inactive one). Returns the PENDING record at once (the
    finished one with ``EXPORT_SYNC``).

    Sets ``last_run_at``, never moves ``next_run_at``; audited as ``export.trigger``. An override
    outside the business's allowed recipient domains is a ValidationError, nothing created."""
    if override_recipients is not None and send_email:
        check_allowed_recipients(schedule.business_id, {"override_recipients": list(override_recipients)})
    history = _schedule_run(
        schedule, user, trigger, send_email=send_email, override_recipients=override_recipients
    )
    touch_last_run(schedule.id, history.created_at)
    _admit(history)
    record_audit(
        schedule.business_id,
        "export.trigger",
        user_id=_user_id(user),
        entity="export_schedule",
        entity_id=schedule.id,
        details={
            "history_id": str(history.id),
            "trigger": trigger,
            "send_email": bool(send_email),
            "override_recipients": list(override_recipients) if override_recipients is not None else None,
        },
    )
    return dispatch.start_queued(history)


def trigger_schedule_request(
    schedule: ExportSchedule, user: User | None, body: object, trigger: str
) -> ExportHistory:
    """`trigger_schedule` from a request body ``{"send_email", "override_recipients"}`` (both
    optional), validated here."""
    options = validate_trigger(body)
    return trigger_schedule(
        schedule,
        user,
        trigger,
        send_email=options["send_email"],
        override_recipients=options["override_recipients"],
    )


def send_test(schedule: ExportSchedule, user: User) -> ExportHistory:
    """A test send: the schedule's export now, mailed to `user` only. Not the schedule's last run
    (``last_run_at`` stays); the mail says it is a test (``is_test``). Audited ``export.test``."""
    recipients = [user.email]
    check_allowed_recipients(schedule.business_id, {"override_recipients": recipients})
    history = _schedule_run(
        schedule, user, TRIGGER_MANUAL, send_email=True, override_recipients=recipients, is_test=True
    )
    _admit(history)
    record_audit(
        schedule.business_id,
        "export.test",
        user_id=user.id,
        entity="export_schedule",
        entity_id=schedule.id,
        details={"history_id": str(history.id), "recipients": recipients},
    )
    return dispatch.start_queued(history)


def rerun(history: ExportHistory, user: User | None, trigger: str = TRIGGER_MANUAL) -> ExportHistory:
    """Run a past export again: same type, format and resolved filters (the same period), same
    schedule link, same mail choice; a new record, attempt 1. Audited ``export.rerun``. A rerun of
    a test send is a test send again (it does not touch ``last_run_at``)."""
    new_run = ExportHistory(**rerun_row(history, user_id=_user_id(user), trigger=trigger))
    if not new_run.is_test:
        touch_last_run(history.schedule_id, new_run.created_at)
    _admit(new_run)
    record_audit(
        history.business_id,
        "export.rerun",
        user_id=_user_id(user),
        entity="export_history",
        entity_id=history.id,
        details={"history_id": str(new_run.id), "rerun_of": str(history.id), "trigger": trigger},
    )
    return dispatch.start_queued(new_run)


def _one_off_run(
    business: Business,
    user: User | None,
    export_type: str,
    fmt: str,
    filters: Mapping[str, Any] | None,
    recipients: list[str],
    trigger: str,
    *,
    formats: Iterable[str] | None = None,
    audit_details: Mapping[str, Any] | None = None,
) -> ExportHistory:
    """A run without a schedule, admitted and audited ``export.one_off`` (not yet started)."""
    check_allowed_recipients(business.id, {"recipients": recipients})
    history = ExportHistory(
        **history_row(
            business_id=business.id,
            export_type=export_type,
            fmt=fmt,
            formats=formats,
            trigger=trigger,
            filters=filters,
            user_id=_user_id(user),
            send_email=bool(recipients),
            override_recipients=recipients,
        )
    )
    _admit(history)
    record_audit(
        business.id,
        "export.one_off",
        user_id=_user_id(user),
        entity="export_history",
        entity_id=history.id,
        details={
            "export_type": export_type,
            "format": fmt,
            "formats": list(formats) if formats else None,
            "filters": dict(filters or {}),
            "recipients": recipients,
            "trigger": trigger,
            **dict(audit_details or {}),
        },
    )
    return history


def start_one_off_export(
    business: Business,
    user: User | None,
    export_type: str,
    fmt: str,
    filters: Mapping[str, Any] | None,
    recipients: Iterable[str] | None,
    trigger: str = TRIGGER_MANUAL,
    *,
    formats: Iterable[str] | None = None,
) -> ExportHistory:
    """An export without a schedule; mailed to `recipients` when there are any. Audited
    ``export.one_off``. Returns the PENDING record at once. Recipients outside the business's
    allowed domains are a ValidationError, nothing created. `formats`: every format to make, `fmt`
    first (one file each)."""
    history = _one_off_run(
        business, user, export_type, fmt, filters, list(recipients or []), trigger, formats=formats
    )
    return dispatch.start_queued(history)


def start_one_off_request(business: Business, user: User | None, body: object, trigger: str) -> ExportHistory:
    """`start_one_off_export` from a request body ``{"export_type", "format", "filters",
    "recipients"?}``, validated here."""
    cleaned = validate_one_off_export(body)
    return start_one_off_export(
        business,
        user,
        cleaned["export_type"],
        cleaned["format"],
        cleaned.get("filters") or {},
        cleaned.get("recipients") or [],
        trigger,
        formats=cleaned.get("formats"),
    )


def run_export_now(
    business: Business, export_type: str, fmt: str, filters: Mapping[str, Any] | None
) -> ExportHistory:
    """The CLI's export (`flask exports run`): a MANUAL run with no mail, audited like any other
    (``export.one_off`` with ``"via": "cli"``), executed in this process; the finished record.

    Validated like a one-off export (a ValidationError creates nothing). While the business is at
    its concurrency cap the run waits its turn, as any queued run does; when another process's
    worker takes it first, this waits for that worker to finish it."""
    cleaned = validate_one_off_export(
        {"export_type": export_type, "format": fmt, "filters": dict(filters or {})}
    )
    history = _one_off_run(
        business,
        None,
        cleaned["export_type"],
        cleaned["format"],
        cleaned.get("filters") or {},
        [],
        TRIGGER_MANUAL,
        audit_details={"via": "cli"},
    )
    db.session.commit()
    history_id = history.id
    while True:
        with current_app.app_context():  # a worker's own session, as on the pool
            try:
                run_history(history_id)
            finally:
                db.session.remove()
        db.session.rollback()
        status = db.session.scalar(select(ExportHistory.status).where(ExportHistory.id == history_id))
        if status is None or status in FINISHED_STATUSES:
            break
        # PENDING: the business is at its concurrency cap; PROCESSING: another worker has it.
        time.sleep(CLI_WAIT_SECONDS)
    db.session.expire_all()
    return db.session.get(ExportHistory, history_id)
