"""Saved presets: what to export (type, formats, filters) under a name the business reuses."""

# Annotations are evaluated when each class is made (no `from __future__ import annotations`):
# SQLAlchemy would otherwise eval() every Mapped[...] string at start-up (issue 21).

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import db
from dashboard.models.pos import User
from dashboard.models.types import GUID, JSONType, UTCDateTime, new_uuid, utcnow


class SchedulePreset(db.Model):
    __tablename__ = "schedule_presets"
    # One name per business: a name picked from a list must say which preset it is.
    __table_args__ = (UniqueConstraint("business_id", "name", name="uq_schedule_presets_business_name"),)

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(255))
    export_type: Mapped[str] = mapped_column(String(16))
    formats: Mapped[list] = mapped_column(JSONType(), default=list)
    filters: Mapped[dict] = mapped_column(JSONType(), default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    created_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<SchedulePreset {self.name!r} {self.export_type}>"
