"""Export automation: schedules, run history, notification settings and the mail outbox."""

# Annotations are evaluated when each class is made (no `from __future__ import annotations`):
# SQLAlchemy would otherwise eval() every Mapped[...] string at start-up (issue 21).

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.core.labels import (  # noqa: F401 (the stored names, for the code that reads the models)
    EXPORT_TYPES,
    FORMATS,
    FREQUENCIES,
    STATUSES,
    TRIGGERS,
)
from dashboard.extensions import db
from dashboard.models.pos import Business, Membership, User
from dashboard.models.types import GUID, JSONType, UTCDateTime, new_uuid, utcnow

# The stored names are declared with their words in dashboard/core/labels.py; these constants name
# the statuses the code tests for.
TRIGGER_MANUAL = "MANUAL"  # the pages and the CLI
TRIGGER_SCHEDULED = "SCHEDULED"  # the scheduler
TRIGGER_API = "API"  # the JSON API

STATUS_PENDING = "PENDING"
STATUS_PROCESSING = "PROCESSING"
STATUS_COMPLETED = "COMPLETED"
STATUS_FAILED = "FAILED"
STATUS_EMAILED = "EMAILED"
FINISHED_STATUSES = (STATUS_COMPLETED, STATUS_FAILED, STATUS_EMAILED)
SUCCESS_STATUSES = (STATUS_COMPLETED, STATUS_EMAILED)

# What kind of failure a FAILED run had (export_history.failure_category), decided where it
# happened from the exception's type (dashboard/automation/failures.py), never from its message.
FAILURE_SETTINGS = "settings"  # the export's settings are not valid (filters, dates, timing)
FAILURE_DATA = "data"  # the exporter could not turn the business's data into the file
FAILURE_DATABASE = "database"  # the database failed or could not be reached
FAILURE_TIMEOUT = "timeout"  # a database statement ran past its time limit
FAILURE_STORAGE = "storage"  # the file could not be written or stored (disk full, store down)
FAILURE_MEMORY = "memory"  # the export ran out of memory
FAILURE_INTERRUPTED = "interrupted"  # the worker stopped answering (stale-run recovery)
FAILURE_UNKNOWN = "unknown"  # anything else (the traceback says what)
FAILURE_CATEGORIES = (
    FAILURE_SETTINGS,
    FAILURE_DATA,
    FAILURE_DATABASE,
    FAILURE_TIMEOUT,
    FAILURE_STORAGE,
    FAILURE_MEMORY,
    FAILURE_INTERRUPTED,
    FAILURE_UNKNOWN,
)


def dedupe_emails(addresses) -> list[str]:
    """Addresses in order, without blanks and without case-insensitive repeats."""
    seen: set[str] = set()
    result: list[str] = []
    for address in addresses or []:
        address = (address or "").strip()
        if address and address.lower() not in seen:
            seen.add(address.lower())
            result.append(address)
    return result


class ExportSchedule(db.Model):
    __tablename__ = "export_schedules"
    __table_args__ = (
        Index("ix_export_schedules_business_active", "business_id", "is_active"),
        # The poller's query: active schedules ordered by next_run_at.
        Index("ix_export_schedules_active_next_run", "is_active", "next_run_at"),
        Index("ix_export_schedules_next_run_at", "next_run_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(255))
    export_type: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    # Every format each run makes, `format` first (NULL: just `format`; see `formats_of`).
    formats: Mapped[list | None] = mapped_column(JSONType(), nullable=True)
    frequency: Mapped[str] = mapped_column(String(8))
    hour: Mapped[int] = mapped_column(Integer, default=0)
    minute: Mapped[int] = mapped_column(Integer, default=0)
    day_of_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    day_of_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    week_of_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    recipients: Mapped[list] = mapped_column(JSONType(), default=list)
    include_creator_email: Mapped[bool] = mapped_column(Boolean, default=False)
    email_subject: Mapped[str] = mapped_column(String(255), default="")
    email_message: Mapped[str] = mapped_column(Text, default="")
    filters: Mapped[dict] = mapped_column(JSONType(), default=dict)
    skip_if_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    # Send only when the run's figures pass these (dashboard/exports/conditions.py); {} = always.
    conditions: Mapped[dict] = mapped_column(JSONType(), default=dict, server_default="{}")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Destinations besides e-mail (dashboard/destinations/): [{"id", "kind", ...fields}], secrets
    # stored as Fernet tokens; and the password protecting the files ("" = none), encrypted too.
    # Database defaults as well: a schedule written by SQL alone (an import, an older instance
    # during a rolling deploy) has no destination and no password rather than failing.
    destinations: Mapped[list] = mapped_column(JSONType(), default=list, server_default="[]")
    file_password: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    business: Mapped[Business] = relationship()
    created_by: Mapped[User | None] = relationship()

    def creator_is_member(self) -> bool:
        if self.created_by_id is None:
            return False
        return (
            db.session.scalar(
                select(Membership.id).where(
                    Membership.user_id == self.created_by_id,
                    Membership.business_id == self.business_id,
                    Membership.is_active.is_(True),
                )
            )
            is not None
        )

    def get_recipients_list(self) -> list[str]:
        """Recipients plus the creator (when asked and still a member), de-duplicated in order."""
        addresses = list(self.recipients or [])
        if self.include_creator_email and self.created_by is not None and self.creator_is_member():
            addresses.append(self.created_by.email)
        return dedupe_emails(addresses)

    def __repr__(self) -> str:
        return f"<ExportSchedule {self.name!r} {self.frequency}>"


class ExportHistory(db.Model):
    __tablename__ = "export_history"
    __table_args__ = (
        # The history list (newest first, filters checked in the index, deep pages skipped in
        # the index) and the daily statistics: a business with 100,000 runs reads no table row
        # it does not show. (Performance revision 7b1e2c4d9a10.)
        Index(
            "ix_export_history_business_created",
            "business_id",
            "created_at",
            "id",
            "status",
            "export_type",
            "format",
            "trigger",
        ),
        # Statistics grouped by (type, format, status), and filtered counts by type.
        Index(
            "ix_export_history_business_stats",
            "business_id",
            "export_type",
            "format",
            "status",
            "created_at",
            "file_size",
        ),
        # One schedule's runs, newest first (the history's schedule filter, its count, and a
        # schedule's run log): index-only, no sort. (Revision 5c8e1f2a7b3d.)
        Index("ix_export_history_schedule_created", "schedule_id", "business_id", "created_at", "id"),
        Index("ix_export_history_user_created", "user_id", "created_at"),
        Index("ix_export_history_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_export_history_status_retry", "status", "next_retry_at"),
        # Fair dispatch: a business's last start (least recently served first) is one seek.
        Index("ix_export_history_business_started", "business_id", "started_at"),
        # One run per schedule and occurrence, whatever the number of pollers.
        UniqueConstraint("schedule_id", "occurrence_at", name="uq_export_history_schedule_occurrence"),
        # One retry per failed run.
        UniqueConstraint("retry_of_id", name="uq_export_history_retry_of"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("export_schedules.id", ondelete="SET NULL"), nullable=True
    )
    schedule_name: Mapped[str] = mapped_column(String(255), default="")
    export_type: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    # The formats asked for, `format` first (NULL: just `format`; see `formats_of`); the files
    # made are `files`, and the file_* columns repeat the first of them.
    formats: Mapped[list | None] = mapped_column(JSONType(), nullable=True)
    trigger: Mapped[str] = mapped_column(String(16), default="MANUAL")
    status: Mapped[str] = mapped_column(String(16), default=STATUS_PENDING)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    file_name: Mapped[str] = mapped_column(String(255), default="")
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    file_path: Mapped[str] = mapped_column(String(1024), default="")
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    total_records: Mapped[int | None] = mapped_column(Integer, nullable=True)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    filters_applied: Mapped[dict] = mapped_column(JSONType(), default=dict)
    send_email: Mapped[bool] = mapped_column(Boolean, default=True)
    override_recipients: Mapped[list | None] = mapped_column(JSONType(), nullable=True)
    email_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    email_recipients: Mapped[list] = mapped_column(JSONType(), default=list)
    email_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    email_delivery: Mapped[list] = mapped_column(JSONType(), default=list)
    # Each destination's result (contract section 6), written by dashboard/destinations/outbox.py.
    destination_delivery: Mapped[list] = mapped_column(JSONType(), default=list, server_default="[]")
    error_message: Mapped[str] = mapped_column(Text, default="")
    error_traceback: Mapped[str] = mapped_column(Text, default="")
    # What kind of failure (one of FAILURE_CATEGORIES), set where it happened; NULL unless FAILED.
    failure_category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # A test send ("Send a test"): mailed to its starter only, never the schedule's last run.
    # No Python default: a Core INSERT then leaves the column out, so the code of an older schema's
    # tests and imports keeps working; every run the code creates says it (history_rows).
    is_test: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The period's headline figures beside the previous period's (dashboard/exports/comparison.py).
    summary: Mapped[dict] = mapped_column(JSONType(), default=dict, server_default="{}")
    # Why a COMPLETED run sent nothing: its schedule's conditions were not met ("" = not skipped).
    skipped_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Runner bookkeeping
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("export_history.id", ondelete="SET NULL"), nullable=True
    )
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    business: Mapped[Business] = relationship()
    user: Mapped[User | None] = relationship()
    schedule: Mapped[ExportSchedule | None] = relationship()
    files: Mapped[list["ExportRunFile"]] = relationship(
        order_by="ExportRunFile.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        back_populates="history",
    )

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def file_size_mb(self) -> float:
        return round((self.file_size or 0) / (1024 * 1024), 2)

    @property
    def is_downloadable(self) -> bool:
        return self.status in SUCCESS_STATUSES and bool(self.file_path)

    def __repr__(self) -> str:
        return f"<ExportHistory {self.id} {self.export_type} {self.status}>"


class ExportRunFile(db.Model):
    """A file a run produced: one per format, in the order the formats were asked for."""

    __tablename__ = "export_run_files"
    __table_args__ = (
        # Statistics add each run's files after its first (position > 0) per format: one seek.
        Index("ix_export_run_files_business_position", "business_id", "position"),
    )

    history_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("export_history.id", ondelete="CASCADE"), primary_key=True
    )
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str] = mapped_column(String(255), default="")
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    # Empty once retention cleaned the file up (the row stays, as the run's does).
    file_path: Mapped[str] = mapped_column(String(1024), default="")

    history: Mapped[ExportHistory] = relationship(back_populates="files")


def formats_of(run: ExportSchedule | ExportHistory) -> list[str]:
    """The formats a schedule's runs make, or a run made: `formats`, else just `format`."""
    return list(run.formats or [run.format])


class ExportNotificationSettings(db.Model):
    __tablename__ = "export_notification_settings"

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), unique=True
    )
    notify_on_success: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_on_failure: Mapped[bool] = mapped_column(Boolean, default=True)
    default_recipients: Mapped[list] = mapped_column(JSONType(), default=list)
    from_name: Mapped[str] = mapped_column(String(255), default="")
    reply_to_email: Mapped[str] = mapped_column(String(254), default="")
    # Lower-case domain names; a recipient must be at one of them or a subdomain. Empty: any.
    allowed_recipient_domains: Mapped[list] = mapped_column(JSONType(), default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    business: Mapped[Business] = relationship()


MAIL_PENDING = "pending"
MAIL_SENDING = "sending"
MAIL_SENT = "sent"
MAIL_FAILED = "failed"


class MailMessage(db.Model):
    """The mail outbox: one row per (purpose, recipient). Its unique key makes a second send of the
    same mail to the same person impossible; its Message-ID is fixed before the first attempt."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_status_next_attempt", "status", "next_attempt_at"),
        # The daily quota's count: a business's mails counted in the last 24 h.
        Index("ix_mail_messages_business_counted", "business_id", "counted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), index=True
    )
    history_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("export_history.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # export | failure | success | summary | quota
    # Which delivery channel carries the row (dashboard/delivery/channels.py): "email", "webhook"...
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=MAIL_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payload: Mapped[dict] = mapped_column(JSONType(), default=dict)
    # MAIL_DAILY_LIMIT_PER_BUSINESS (dashboard/delivery/quota.py): when the mail first took one of
    # its business's daily slots (null: not yet, or exempt), and why it waits while over the limit.
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    held_reason: Mapped[str] = mapped_column(Text, default="")


# A business's notification settings as delivery and the settings service read them.


def _find_settings(business: Business) -> ExportNotificationSettings | None:
    return db.session.scalar(
        select(ExportNotificationSettings).where(ExportNotificationSettings.business_id == business.id)
    )


def get_settings(business: Business) -> ExportNotificationSettings:
    """The business's settings, created with the defaults on first use: failures notified,
    successes not, no default recipients, the business's name as the sender name."""
    settings = _find_settings(business)
    if settings is not None:
        return settings
    settings = ExportNotificationSettings(
        business_id=business.id,
        notify_on_success=False,
        notify_on_failure=True,
        default_recipients=[],
        from_name=(business.name or "")[:255],
        reply_to_email="",
        allowed_recipient_domains=[],
    )
    db.session.add(settings)
    try:
        db.session.commit()
    except IntegrityError:
        # Two first requests at once: the other one created the row (unique business_id).
        db.session.rollback()
        found = _find_settings(business)
        if found is None:
            raise
        return found
    return settings


def allowed_domains(business_id) -> list[str]:
    """The business's `allowed_recipient_domains` (empty: any domain), without creating settings."""
    domains = db.session.scalar(
        select(ExportNotificationSettings.allowed_recipient_domains).where(
            ExportNotificationSettings.business_id == business_id
        )
    )
    return list(domains or [])
