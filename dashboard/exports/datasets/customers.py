"""CUSTOMERS: one row per customer, optionally with a summary of their store-credit history."""

from __future__ import annotations

from sqlalchemy import DateTime, Select, case, func, select, type_coerce

from dashboard.exports.columns import Column
from dashboard.exports.datasets import Dataset
from dashboard.models.pos import Business, CreditTransaction, Customer

COLUMNS = [
    Column("Name", "text", 26),
    Column("Email", "text", 30),
    Column("Phone", "text", 17),
    Column("Customer since", "date", 14),
    Column("Visits", "int", 8),
    Column("Total spent", "money", 13, total=True),
    Column("Credit limit", "money", 13),
    Column("Credit balance", "money", 14),
]
CREDIT_COLUMNS = [
    Column("Credit transactions", "int", 12),
    Column("Credit charged", "money", 14),
    Column("Credit paid", "money", 13),
    Column("Last credit date", "date", 14),
]


class CustomersDataset(Dataset):
    export_type = "CUSTOMERS"
    title = "Customers"
    file_stem = "customers"
    count_noun = "customers"

    def columns(self, filters: dict) -> list[Column]:
        if filters.get("include_credit_history"):
            return COLUMNS + CREDIT_COLUMNS
        return list(COLUMNS)

    def select(self, business: Business, filters: dict) -> Select:
        customers = Customer.__table__
        selected = [
            customers.c.name,
            customers.c.email,
            customers.c.phone,
            type_coerce(customers.c.created_at, DateTime()),
            customers.c.visits,
            customers.c.total_spent_cents,
            customers.c.credit_limit_cents,
            customers.c.credit_balance_cents,
        ]
        source = customers
        if filters.get("include_credit_history"):
            # One grouped pass over the business's credit transactions, joined once: no per-row queries.
            credit = CreditTransaction.__table__
            history = (
                select(
                    credit.c.customer_id.label("customer_id"),
                    func.count().label("transactions"),
                    func.sum(case((credit.c.kind == "charge", credit.c.amount_cents), else_=0)).label(
                        "charged"
                    ),
                    func.sum(case((credit.c.kind == "payment", credit.c.amount_cents), else_=0)).label(
                        "paid"
                    ),
                    type_coerce(func.max(credit.c.created_at), DateTime()).label("last_at"),
                )
                .where(credit.c.business_id == business.id)
                .group_by(credit.c.customer_id)
                .subquery("credit_history")
            )
            source = customers.outerjoin(history, history.c.customer_id == customers.c.id)
            selected += [
                func.coalesce(history.c.transactions, 0),
                func.coalesce(history.c.charged, 0),
                func.coalesce(history.c.paid, 0),
                history.c.last_at,
            ]
        return (
            select(*selected)
            .select_from(source)
            .where(customers.c.business_id == business.id)
            .order_by(customers.c.name, customers.c.id)
        )
