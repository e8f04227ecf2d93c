"""Helpers for the service tests: valid payloads and history rows at chosen instants."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

from dashboard.extensions import db
from dashboard.models import AuditLog, Business, ExportHistory, Membership, User


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def valid_schedule(**changes) -> dict:
    """A valid create payload (the seed's first example), with `changes` applied; a value of
    `...` removes the key."""
    data = {
        "name": "Daily Sales Export",
        "export_type": "SALES",
        "format": "excel",
        "frequency": "DAILY",
        "hour": 8,
        "recipients": ["accounting@company.com", "manager@company.com"],
        "include_creator_email": True,
        "email_subject": "Daily Sales Report",
        "email_message": "Please find attached the daily sales export.",
        "filters": {"start_date": "2024-01-01", "end_date": "2024-01-31"},
        "is_active": True,
    }
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def add_run(business, **fields) -> ExportHistory:
    values = {"export_type": "SALES", "format": "csv", "status": "COMPLETED", "trigger": "SCHEDULED"}
    values.update(fields)
    run = ExportHistory(business_id=business.id, **values)
    db.session.add(run)
    db.session.commit()
    return run


def audit_actions(business) -> list[AuditLog]:
    return list(
        db.session.scalars(
            db.select(AuditLog).where(AuditLog.business_id == business.id).order_by(AuditLog.id)
        )
    )


def make_tenant(name: str, timezone: str = "UTC") -> SimpleNamespace:
    tag = uuid.uuid4().hex[:6]
    business = Business(name=f"{name} {tag}", timezone=timezone)
    owner = User(email=f"owner-{tag}@example.com", name=f"{name} Owner")
    manager = User(email=f"manager-{tag}@example.com", name=f"{name} Manager")
    db.session.add_all(
        [
            business,
            owner,
            manager,
            Membership(user=owner, business=business, role="owner"),
            Membership(user=manager, business=business, role="manager"),
        ]
    )
    db.session.commit()
    return SimpleNamespace(business=business, owner=owner, manager=manager)
