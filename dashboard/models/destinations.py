"""The destination outbox: one row per (run, destination), the record of its delivery.

A row is claimed atomically before each attempt (status "sending" with a lease), so two workers
never send it at once; once "delivered" it is never claimed again. The run's
`destination_delivery` is read from these rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.types import GUID, JSONType, UTCDateTime, new_uuid, utcnow

DELIVERY_PENDING = "pending"  # waiting for its (next) attempt
DELIVERY_SENDING = "sending"  # claimed by a worker until lease_until
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"  # given up: not retryable, or out of attempts


class DestinationDelivery(db.Model):
    __tablename__ = "destination_deliveries"
    __table_args__ = (
        UniqueConstraint("history_id", "position", name="uq_destination_deliveries_run_position"),
        Index("ix_destination_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    history_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("export_history.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # the destination's index on the schedule
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500), default="")
    # The destination as it was when the run finished (secrets still encrypted): retries go where
    # the run was meant to go even if the schedule changes meanwhile.
    destination: Mapped[dict] = mapped_column(JSONType(), default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def as_result(self) -> dict:
        """One entry of the run's `destination_delivery` (contract section 6)."""
        return {
            "kind": self.kind,
            "target": self.target,
            "delivered": self.status == DELIVERY_DELIVERED,
            "error": None if self.status == DELIVERY_DELIVERED else (self.last_error or None),
            "attempts": self.attempts,
        }
