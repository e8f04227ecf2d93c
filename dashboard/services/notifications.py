"""A business's export notification settings (owners edit them; the runner and mails read them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dashboard.core.addresses import msg_outside_domains, outside_domains
from dashboard.core.errors import StateConflict
from dashboard.extensions import db
from dashboard.models.automation import (  # the settings as delivery reads them, shared here
    ExportNotificationSettings,
    allowed_domains,
    get_settings,
)
from dashboard.models.pos import AuditLog, Business, User
from dashboard.run_record import iso_utc
from dashboard.services.audit import record_audit
from dashboard.services.validation import NOTIFICATION_FIELDS, validate_notification_settings

__all__ = [
    "allowed_domains",
    "check_allowed_recipients",
    "get_settings",
    "settings_to_dict",
    "settings_values",
    "update_settings",
]

AUDIT_ENTITY = "export_notification_settings"


def last_saved_at(business: Business):
    """When someone last saved the settings (their audit entry), or None while nobody has: the
    row is created with the defaults on first use, so its own timestamps would name a mere visit."""
    return db.session.scalar(
        select(AuditLog.created_at)
        .where(AuditLog.business_id == business.id, AuditLog.action == "notifications.update")
        .order_by(AuditLog.created_at.desc())
        .limit(1)
    )


def settings_values(settings: ExportNotificationSettings) -> dict[str, Any]:
    values = {field: getattr(settings, field) for field in NOTIFICATION_FIELDS}
    values["default_recipients"] = list(values["default_recipients"] or [])
    values["allowed_recipient_domains"] = list(values["allowed_recipient_domains"] or [])
    return values


def check_allowed_recipients(
    business_id, lists: dict[str, list[str] | None], domains: list[str] | None = None
) -> None:
    """Raise a StateConflict (field -> one message per address, at most ten) when an address of
    `lists` is outside the business's allowed domains. Called when a schedule, a one-off export, a
    trigger override or the default recipients are saved; the outbox checks again when sending."""
    domains = allowed_domains(business_id) if domains is None else domains
    if not domains:
        return
    errors: dict[str, list[str]] = {}
    for field, addresses in lists.items():
        outside = outside_domains(addresses or [], domains)
        if outside:
            errors[field] = [msg_outside_domains(a, domains) for a in outside[:10]]
            if len(outside) > 10:
                errors[field].append(f"... and {len(outside) - 10} more addresses outside those domains.")
    if errors:
        raise StateConflict(errors)


def update_settings(business: Business, user: User | None, data: object) -> ExportNotificationSettings:
    """Validate and save (`PUT`: fields left out keep their values); 'notifications.update'
    audited with {"field": [old, new]} when anything changed."""
    settings = get_settings(business)
    old = settings_values(settings)
    values = validate_notification_settings(data, old)
    # The default recipients (failure alerts, notices, summaries) follow the domains being saved.
    check_allowed_recipients(
        business.id,
        {"default_recipients": values["default_recipients"]},
        values["allowed_recipient_domains"] or [],
    )
    changed = {
        field: [old[field], values[field]] for field in NOTIFICATION_FIELDS if old[field] != values[field]
    }
    if not changed:
        return settings
    for field, (_, new) in changed.items():
        setattr(settings, field, new)
    record_audit(
        business.id,
        "notifications.update",
        user_id=user.id if user is not None else None,
        entity=AUDIT_ENTITY,
        entity_id=settings.id,
        details=changed,
    )
    db.session.commit()
    return settings


def settings_to_dict(settings: ExportNotificationSettings) -> dict[str, Any]:
    return {
        "notify_on_success": settings.notify_on_success,
        "notify_on_failure": settings.notify_on_failure,
        "default_recipients": list(settings.default_recipients or []),
        "from_name": settings.from_name,
        "reply_to_email": settings.reply_to_email,
        "allowed_recipient_domains": list(settings.allowed_recipient_domains or []),
        "updated_at": iso_utc(settings.updated_at),
    }
