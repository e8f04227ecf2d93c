"""Notification settings: lazy defaults, validated updates, one audit entry per change."""

from __future__ import annotations

import json

import pytest

from dashboard.core.errors import ValidationError
from dashboard.extensions import db
from dashboard.models import ExportNotificationSettings
from dashboard.services.notifications import get_settings, settings_to_dict, update_settings
from tests.services.service_helpers import audit_actions


def count_settings() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(ExportNotificationSettings))


def test_defaults_are_created_once(shop, other_shop):
    settings = get_settings(shop.business)
    assert get_settings(shop.business) is settings
    assert count_settings() == 1
    data = settings_to_dict(settings)
    assert data["notify_on_failure"] is True and data["notify_on_success"] is False
    assert data["default_recipients"] == [] and data["reply_to_email"] == ""
    assert data["from_name"] == shop.business.name
    assert data["updated_at"].endswith("Z")
    assert get_settings(other_shop.business).id != settings.id  # one per business
    assert audit_actions(shop.business) == []  # reading is not a change


def test_update_validates_saves_and_audits(shop):
    settings = update_settings(
        shop.business,
        shop.owner,
        {
            "notify_on_success": True,
            "default_recipients": ["Admin@Example.com", "admin@example.com", "ops@example.com"],
            "from_name": "POS Export Service",
            "reply_to_email": "noreply@company.com",
        },
    )
    db.session.expire_all()
    assert settings_to_dict(get_settings(shop.business)) | {"updated_at": None} == {
        "notify_on_success": True,
        "notify_on_failure": True,
        "default_recipients": ["Admin@example.com", "ops@example.com"],
        "from_name": "POS Export Service",
        "reply_to_email": "noreply@company.com",
        "allowed_recipient_domains": [],
        "updated_at": None,
    }
    [entry] = audit_actions(shop.business)
    assert (entry.action, entry.entity, entry.entity_id) == (
        "notifications.update",
        "export_notification_settings",
        str(settings.id),
    )
    assert entry.user_id == shop.owner.id
    assert json.loads(entry.details)["notify_on_success"] == [False, True]
    assert "notify_on_failure" not in json.loads(entry.details)


def test_update_without_change_writes_no_audit(shop):
    update_settings(shop.business, shop.owner, {"notify_on_failure": True})
    assert audit_actions(shop.business) == []


def test_invalid_update_changes_nothing(shop):
    with pytest.raises(ValidationError) as info:
        update_settings(
            shop.business,
            shop.owner,
            {"notify_on_success": True, "reply_to_email": "nope", "from_name": "a\r\nb"},
        )
    assert set(info.value.errors) == {"reply_to_email", "from_name"}
    db.session.expire_all()
    assert get_settings(shop.business).notify_on_success is False
    assert audit_actions(shop.business) == []
