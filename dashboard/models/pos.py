"""Point-of-sale data: businesses, people, and what the four export types read."""

# Annotations are evaluated when each class is made (no `from __future__ import annotations`):
# SQLAlchemy would otherwise eval() every Mapped[...] string at start-up (issue 21).

import time
import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.extensions import db
from dashboard.models.types import GUID, UTCDateTime, new_uuid, utcnow

ROLE_OWNER = "owner"
ROLE_MANAGER = "manager"
ROLES = (ROLE_OWNER, ROLE_MANAGER)


class Business(db.Model):
    __tablename__ = "businesses"

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Moved on by the database whenever a schedule of the business is added, removed or renamed
    # (models/schedules_stamp.py): what is made of the schedules' names is kept by it.
    schedules_stamp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    memberships: Mapped[list["Membership"]] = relationship(back_populates="business")

    def __repr__(self) -> str:
        return f"<Business {self.name}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    is_active_user: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changing it invalidates existing sessions and remember-me cookies (Flask-Login's alternative id).
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(back_populates="user")

    def set_password(self, password: str) -> None:
        # A password set again ends every session signed in with the old one.
        if self.password_hash:
            self.end_sessions()
        self.password_hash = generate_password_hash(password)

    def end_sessions(self) -> None:
        """End every session and remember-me cookie of this person (see dashboard/auth/sessions.py)."""
        self.session_version = (self.session_version or 1) + 1

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_user

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def get_session_id(self) -> str:
        """What Flask-Login stores in the session and the remember-me cookie (its `id_attribute`):
        `<id>:<session_version>:<signed in at>` (dashboard/auth/sessions.py reads it back)."""
        return f"{self.id}:{self.session_version or 1}:{int(time.time())}"

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "business_id", name="uq_memberships_user_business"),)

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=ROLE_MANAGER)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    business: Mapped[Business] = relationship(back_populates="memberships")

    @property
    def is_owner(self) -> bool:
        return self.role == ROLE_OWNER


class ApiToken(db.Model):
    """A bearer token acting as one membership. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(GUID(), primary_key=True, default=new_uuid)
    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12), default="")
    # What the owner calls it ("Accounting sync"), so a list of tokens says which is which.
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    membership: Mapped["Membership"] = relationship()


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_business_name", "business_id", "name"),
        # The POS's own id for the customer: `flask pos import customers` is idempotent on it.
        UniqueConstraint("business_id", "external_id", name="uq_customers_business_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    total_spent_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_limit_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CreditTransaction(db.Model):
    __tablename__ = "credit_transactions"
    __table_args__ = (Index("ix_credit_transactions_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # "charge" | "payment"
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("business_id", "sku", name="uq_products_business_sku"),
        Index("ix_products_business_category_name", "business_id", "category", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(128), default="")
    quantity_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    retail_price_cents: Mapped[int] = mapped_column(BigInteger, default=0)


SALE_STATUSES = ("completed", "refunded", "voided")
PAYMENT_METHODS = ("cash", "card", "mobile", "credit")


class Sale(db.Model):
    __tablename__ = "sales"
    __table_args__ = (
        Index("ix_sales_business_created", "business_id", "created_at"),
        UniqueConstraint("business_id", "receipt_number", name="uq_sales_business_receipt"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    receipt_number: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True
    )
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    payment_method: Mapped[str] = mapped_column(String(16), default="cash")
    status: Mapped[str] = mapped_column(String(16), default="completed")
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    subtotal_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class SaleLine(db.Model):
    __tablename__ = "sale_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), nullable=True
    )
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    line_total_cents: Mapped[int] = mapped_column(BigInteger, default=0)


# Entries about what only owners may see (notification settings: private reply-to and
# recipients). Their details are left out of an Audit Logs export made for anyone else; the entry
# itself (who, what, when) stays. An owner-only feature that audits adds its action prefix here.
OWNER_ONLY_ACTION_PREFIXES: tuple[str, ...] = ("notifications.",)
OWNER_ONLY_DETAILS = "(details visible to owners only)"


class AuditLog(db.Model):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_business_created", "business_id", "created_at"),
        # The POS's own id for an imported entry (None for the dashboard's own entries).
        UniqueConstraint("business_id", "external_id", name="uq_audit_logs_business_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64), default="")
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[str] = mapped_column(Text, default="")
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    user: Mapped[User | None] = relationship()
