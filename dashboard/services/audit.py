"""The audit trail: one call records who did what to which object.

It writes to the business's audit log, the same table the Audit Logs export reads.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import has_request_context, request

from dashboard.extensions import db
from dashboard.models.pos import AuditLog


def client_ip() -> str:
    if not has_request_context():
        return ""
    return (request.remote_addr or "")[:64]


def record_audit(
    business_id: uuid.UUID,
    action: str,
    *,
    user_id: uuid.UUID | None = None,
    entity: str = "",
    entity_id: Any = "",
    details: str | dict | None = None,
    ip_address: str | None = None,
    commit: bool = False,
) -> AuditLog:
    """Add an audit entry to the session (committed with the change it records unless `commit`)."""
    if isinstance(details, dict):
        details = json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
    entry = AuditLog(
        business_id=business_id,
        user_id=user_id,
        action=action[:64],
        entity=entity[:64],
        entity_id=str(entity_id or "")[:64],
        details=details or "",
        ip_address=client_ip() if ip_address is None else ip_address[:64],
    )
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry
