"""Who gets what (contract section 4): the export mail, failure alerts, success notices and the
weekly summary, each from the schedule, the trigger's override or the notification settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models.automation import (
    SUCCESS_STATUSES,
    ExportHistory,
    ExportNotificationSettings,
    dedupe_emails,
)
from dashboard.models.pos import ROLE_OWNER, Business, Membership, User


def valid_address(address: str) -> bool:
    return bool(address) and "@" in address and "\n" not in address and "\r" not in address


def clean_list(addresses: Iterable[str] | None) -> list[str]:
    """Addresses without duplicates (case-insensitive) or header-breaking ones, in order."""
    return [a for a in dedupe_emails(addresses) if valid_address(a)]


def member_email(user: User | None, business_id: uuid.UUID) -> str | None:
    """The user's address if they are still an active member of the business."""
    if user is None or not user.is_active_user:
        return None
    member = db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id,
            Membership.business_id == business_id,
            Membership.is_active.is_(True),
        )
    )
    return user.email if member is not None else None


def member_addresses(business_id: uuid.UUID) -> set[str]:
    """Lower-case addresses of the business's active members (who may open the dashboard)."""
    rows = db.session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.business_id == business_id,
            Membership.is_active.is_(True),
            User.is_active_user.is_(True),
        )
    )
    return {email.lower() for email in rows}


# Failure alerts (contract section 6): one when a run fails, with the time of its next retry if
# any, and one more when its retries are exhausted; the retries in between alert nobody.
ALERT_FIRST = "first"
ALERT_FINAL = "final"


def failure_alert_stage(history: ExportHistory) -> str | None:
    """ALERT_FIRST for the run's first attempt, ALERT_FINAL for a retry after which none is left,
    None for a retry that will be retried again."""
    if (history.attempt or 1) <= 1 and history.retry_of_id is None:
        return ALERT_FIRST
    if history.next_retry_at is None:
        return ALERT_FINAL
    return None


def audiences(business_id: uuid.UUID) -> Callable[[str], bool]:
    """recipient -> whether they are a member of the business (and may open its dashboard)."""
    members = member_addresses(business_id)
    return lambda address: address.strip().lower() in members


def export_recipients(history: ExportHistory) -> list[str]:
    """The export mail's recipients: the trigger's override, else the schedule's list; nobody when
    the run asked for no mail or was skipped as empty."""
    if not history.send_email or history.status not in SUCCESS_STATUSES:
        return []
    schedule = history.schedule
    if history.record_count == 0 and schedule is not None and schedule.skip_if_empty:
        return []
    if history.override_recipients is not None:
        return clean_list(history.override_recipients)
    if schedule is None:
        return []
    return clean_list(schedule.get_recipients_list())


def failure_recipients(history: ExportHistory, settings: ExportNotificationSettings) -> list[str]:
    """default_recipients, else the schedule's creator, and for a run someone started, that person."""
    if history.is_test:  # a test send tells only the person who sent it
        return clean_list([member_email(history.user, history.business_id) or ""])
    if not settings.notify_on_failure:
        return []
    defaults = clean_list(settings.default_recipients)
    if defaults:
        return defaults
    people: list[str | None] = []
    if history.schedule is not None:
        people.append(member_email(history.schedule.created_by, history.business_id))
    if history.user is not None and (history.schedule is None or history.trigger != "SCHEDULED"):
        people.append(member_email(history.user, history.business_id))
    return clean_list(p for p in people if p)


def success_notice_recipients(
    history: ExportHistory, settings: ExportNotificationSettings, export_to: list[str]
) -> list[str]:
    """default_recipients when notify_on_success, minus those who get the export mail itself."""
    if not settings.notify_on_success or history.status not in SUCCESS_STATUSES or history.is_test:
        return []
    already = {a.lower() for a in export_to}
    return [a for a in clean_list(settings.default_recipients) if a.lower() not in already]


def summary_recipients(business: Business, settings: ExportNotificationSettings) -> list[str]:
    """default_recipients, else the business's active owners."""
    defaults = clean_list(settings.default_recipients)
    if defaults:
        return defaults
    owners = db.session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.business_id == business.id,
            Membership.role == ROLE_OWNER,
            Membership.is_active.is_(True),
            User.is_active_user.is_(True),
        )
        .order_by(User.email)
    )
    return clean_list(owners)
