"""AUDIT_LOGS: one row per audit entry in the period, in the business's time."""

from __future__ import annotations

from sqlalchemy import DateTime, Select, select, type_coerce

from dashboard.exports.columns import Column
from dashboard.exports.datasets import Dataset, period_bounds, user_label
from dashboard.models.pos import AuditLog, Business, User

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

    def columns(self, filters: dict) -> list[Column]:
        return list(COLUMNS)

    def select(self, business: Business, filters: dict) -> Select:
        logs = AuditLog.__table__
        users = User.__table__
        query = (
            select(
                type_coerce(logs.c.created_at, DateTime()),
                user_label(users),
                logs.c.action,
                logs.c.entity,
                logs.c.entity_id,
                logs.c.details,
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
