"""A business's export notification settings (owners edit them; the runner and mails read them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.extensions import db
from dashboard.models.automation import ExportNotificationSettings
from dashboard.models.pos import Business, User
from dashboard.services.audit import record_audit
from dashboard.services.presenters import iso_utc
from dashboard.services.validation import NOTIFICATION_FIELDS, validate_notification_settings

__all__ = ["get_settings", "settings_to_dict", "settings_values", "update_settings"]

AUDIT_ENTITY = "export_notification_settings"


def _find(business: Business) -> ExportNotificationSettings | None:
    return db.session.scalar(
        select(ExportNotificationSettings).where(ExportNotificationSettings.business_id == business.id)
    )


def get_settings(business: Business) -> ExportNotificationSettings:
    """The business's settings, created with the defaults on first use: failures notified,
    successes not, no default recipients, the business's name as the sender name."""
    settings = _find(business)
    if settings is not None:
        return settings
    settings = ExportNotificationSettings(
        business_id=business.id,
        notify_on_success=False,
        notify_on_failure=True,
        default_recipients=[],
        from_name=(business.name or "")[:255],
        reply_to_email="",
    )
    db.session.add(settings)
    try:
        db.session.commit()
    except IntegrityError:
        # Two first requests at once: the other one created the row (unique business_id).
        db.session.rollback()
        found = _find(business)
        if found is None:
            raise
        return found
    return settings


def settings_values(settings: ExportNotificationSettings) -> dict[str, Any]:
    values = {field: getattr(settings, field) for field in NOTIFICATION_FIELDS}
    values["default_recipients"] = list(values["default_recipients"] or [])
    return values


def update_settings(business: Business, user: User | None, data: object) -> ExportNotificationSettings:
    """Validate and save (`PUT`: fields left out keep their values); 'notifications.update'
    audited with {"field": [old, new]} when anything changed."""
    settings = get_settings(business)
    old = settings_values(settings)
    values = validate_notification_settings(data, old)
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
        "updated_at": iso_utc(settings.updated_at),
    }
