"""All models, importable from one place (Alembic autogenerate reads them from here)."""

from dashboard.models.automation import (
    ExportHistory,
    ExportNotificationSettings,
    ExportRunFile,
    ExportSchedule,
    MailMessage,
)
from dashboard.models.history_counts import ExportHistoryCount
from dashboard.models.pos import (
    ApiToken,
    AuditLog,
    Business,
    CreditTransaction,
    Customer,
    Membership,
    Product,
    Sale,
    SaleLine,
    User,
)
from dashboard.models.presets import SchedulePreset
from dashboard.models.schedules_stamp import SQLITE_DDL as _stamp_triggers  # noqa: F401 - installs them

__all__ = [
    "ApiToken",
    "AuditLog",
    "Business",
    "CreditTransaction",
    "Customer",
    "ExportHistory",
    "ExportHistoryCount",
    "ExportNotificationSettings",
    "ExportRunFile",
    "ExportSchedule",
    "MailMessage",
    "Membership",
    "Product",
    "Sale",
    "SaleLine",
    "SchedulePreset",
    "User",
]
