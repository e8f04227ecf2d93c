"""AUDIT_LOGS: one row per audit entry in the period, in the business's time."""

from __future__ import annotations

from sqlalchemy import DateTime, Select, case, literal, or_, select, type_coerce

from dashboard.exports.columns import Column
from dashboard.exports.datasets import Dataset, period_bounds, user_label
from dashboard.models.pos import OWNER_ONLY_ACTION_PREFIXES, OWNER_ONLY_DETAILS, AuditLog, Business, User

COLUMNS = [
    Column("Time", "datetime", 18),
    Column("User", "text", 24),
    Column("Action", "text", 18),
    Column("Entity", "text", 14),
    Column("Entity ID", "text", 38),
    Column("Details", "text", 48),
    Column("IP address", "text", 16),
]


class AuditLogsDataset(Dataset):
    export_type = "AUDIT_LOGS"
    title = "Audit logs"
    file_stem = "audit_logs"
    count_noun = "entries"

    def __init__(self, owner_view: bool = True) -> None:
        # False: made for someone who is not an owner (a manager's export, or a schedule a manager
        # made): owner-only entries keep who/what/when, not their details.
        self.owner_view = owner_view

    def for_viewer(self, owner: bool) -> AuditLogsDataset:
        return AuditLogsDataset(owner_view=owner)

    def columns(self, filters: dict) -> list[Column]:
        return list(COLUMNS)

    def select(self, business: Business, filters: dict) -> Select:
        logs = AuditLog.__table__
        users = User.__table__
        details = logs.c.details
        if not self.owner_view:
            owner_only = or_(*(logs.c.action.startswith(prefix) for prefix in OWNER_ONLY_ACTION_PREFIXES))
            details = case((owner_only, literal(OWNER_ONLY_DETAILS)), else_=logs.c.details)
        query = (
            select(
                type_coerce(logs.c.created_at, DateTime()),
                user_label(users),
                logs.c.action,
                logs.c.entity,
                logs.c.entity_id,
                details,
                logs.c.ip_address,
            )
            .select_from(logs.outerjoin(users, users.c.id == logs.c.user_id))
            .where(logs.c.business_id == business.id)
            .order_by(logs.c.created_at, logs.c.id)
        )
        start, end = period_bounds(filters, business.timezone or "UTC")
        if start is not None:
            query = query.where(logs.c.created_at >= start)
        if end is not None:
            query = query.where(logs.c.created_at < end)
        return query
