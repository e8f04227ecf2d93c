"""SALES: one row per receipt in the period, in the business's time."""

from __future__ import annotations

from sqlalchemy import DateTime, Select, case, select, type_coerce

from dashboard.exports.columns import Column
from dashboard.exports.datasets import Dataset, period_bounds, user_label
from dashboard.models.pos import Business, Customer, Sale, User

PAYMENT_LABELS = {"cash": "Cash", "card": "Card", "mobile": "Mobile", "credit": "Store credit"}
STATUS_LABELS = {"completed": "Completed", "refunded": "Refunded", "voided": "Voided"}

COLUMNS = [
    Column("Receipt", "text", 13),
    Column("Date", "datetime", 18),
    Column("Customer", "text", 24),
    Column("Cashier", "text", 20),
    Column("Payment method", "text", 15),
    Column("Status", "text", 11),
    Column("Items", "int", 7),
    Column("Subtotal", "money", 12, total=True),
    Column("Discount", "money", 11, total=True),
    Column("Tax", "money", 10, total=True),
    Column("Total", "money", 12, total=True),
]


class SalesDataset(Dataset):
    export_type = "SALES"
    title = "Sales"
    file_stem = "sales"
    count_noun = "sales"

    def columns(self, filters: dict) -> list[Column]:
        return list(COLUMNS)

    def select(self, business: Business, filters: dict) -> Select:
        sales = Sale.__table__
        customers = Customer.__table__
        cashiers = User.__table__.alias("cashiers")
        query = (
            select(
                sales.c.receipt_number,
                # Plain DateTime: naive UTC values, converted to business time by the writers.
                type_coerce(sales.c.created_at, DateTime()),
                customers.c.name,
                user_label(cashiers),
                case(PAYMENT_LABELS, value=sales.c.payment_method, else_=sales.c.payment_method),
                case(STATUS_LABELS, value=sales.c.status, else_=sales.c.status),
                sales.c.item_count,
                sales.c.subtotal_cents,
                sales.c.discount_cents,
                sales.c.tax_cents,
                sales.c.total_cents,
            )
            .select_from(
                sales.outerjoin(customers, customers.c.id == sales.c.customer_id).outerjoin(
                    cashiers, cashiers.c.id == sales.c.cashier_id
                )
            )
            # (business_id, created_at) is indexed: the range scan reads only the period.
            .where(sales.c.business_id == business.id)
            .order_by(sales.c.created_at, sales.c.id)
        )
        start, end = period_bounds(filters, business.timezone or "UTC")
        if start is not None:
            query = query.where(sales.c.created_at >= start)
        if end is not None:
            query = query.where(sales.c.created_at < end)
        return query
