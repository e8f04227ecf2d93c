"""Period over period: an export's headline figures beside the previous period's, with the change.

    SALES      Sales (completed receipts' totals), Receipts, Average ticket, Refunds
    INVENTORY  Stock value, Retail value

Sales are summed by one aggregate query per period (never a query per row): the period the export
holds, and the period before it (dashboard/exports/periods.py: the day, Monday-Sunday week or
calendar month before; another range of as many days just before). Inventory is a snapshot with no
history of its own: its previous figures are those the last inventory run of the business recorded
(`ExportHistory.summary`), and its "period" is the day it was taken.

The result is a plain JSON-able dict, stored on the run (`summary`) and shown by the mail, the
Excel "Summary" sheet and page 1 of the PDF; money as strings with two places, exact.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, case, func, select

from dashboard.exports.columns import money
from dashboard.exports.datasets import period_bounds
from dashboard.exports.periods import period_dates, period_label, previous_period
from dashboard.models.pos import Business, Product, Sale

COMPARED_TYPES = ("SALES", "INVENTORY")
# The figure a condition's "total" and "change" are about.
HEADLINE = {"SALES": "sales", "INVENTORY": "stock_value"}
LABELS = {
    "sales": "Sales (completed)",
    "receipts": "Receipts",
    "average_ticket": "Average ticket",
    "refunds": "Refunds",
    "stock_value": "Stock value",
    "retail_value": "Retail value",
}
KINDS = {"receipts": "int"}  # the others are money
# Figures whose rise is bad news (the mail colours a change by whether it is good, not its sign).
LOWER_IS_BETTER = frozenset({"refunds"})


def _sales_figures(connection: Connection, business: Business, start: date, end: date) -> dict[str, Any]:
    """One aggregate query: sales, receipts and refunds of [start, end] in business-local days."""
    sales = Sale.__table__
    completed = sales.c.status == "completed"
    refunded = sales.c.status == "refunded"
    query = select(
        func.coalesce(func.sum(case((completed, sales.c.total_cents), else_=0)), 0),
        func.coalesce(func.sum(case((completed, 1), else_=0)), 0),
        func.coalesce(func.sum(case((refunded, sales.c.total_cents), else_=0)), 0),
    ).where(sales.c.business_id == business.id)
    low, high = period_bounds(
        {"start_date": start.isoformat(), "end_date": end.isoformat()}, business.timezone or "UTC"
    )
    if low is not None:
        query = query.where(sales.c.created_at >= low)
    if high is not None:
        query = query.where(sales.c.created_at < high)
    total, receipts, refunds = connection.execute(query).one()
    total, receipts, refunds = int(total or 0), int(receipts or 0), int(refunds or 0)
    average = money(round(total / receipts)) if receipts else Decimal("0.00")
    return {
        "sales": money(total),
        "receipts": receipts,
        "average_ticket": average,
        "refunds": money(refunds),
    }


def _inventory_figures(connection: Connection, business: Business) -> dict[str, Any]:
    products = Product.__table__
    query = select(
        func.coalesce(func.sum(products.c.quantity_on_hand * products.c.unit_cost_cents), 0),
        func.coalesce(func.sum(products.c.quantity_on_hand * products.c.retail_price_cents), 0),
    ).where(products.c.business_id == business.id)
    stock, retail = connection.execute(query).one()
    return {"stock_value": money(int(stock or 0)), "retail_value": money(int(retail or 0))}


def change_percent(current: Decimal | int, previous: Decimal | int | None) -> float | None:
    """The change from `previous` to `current` in percent (one decimal); None from nothing."""
    if previous is None or previous == 0:
        return None
    return round(float((Decimal(current) - Decimal(previous)) * 100 / abs(Decimal(previous))), 1)


def _figure(key: str, current: Any, previous: Any) -> dict[str, Any]:
    kind = KINDS.get(key, "money")
    as_json = (lambda v: v) if kind == "int" else (lambda v: None if v is None else str(v))
    return {
        "key": key,
        "label": LABELS[key],
        "kind": kind,
        "current": as_json(current),
        "previous": as_json(previous),
        "change_percent": change_percent(current, previous),
    }


def compare_periods(
    connection: Connection,
    business: Business,
    export_type: str,
    filters: dict,
    *,
    today: date,
    previous_snapshot: dict | None = None,
) -> dict[str, Any]:
    """The headline figures of `filters`' period beside the previous period's; {} for a type
    without them. `previous_snapshot`: the summary an earlier inventory run recorded."""
    if export_type == "SALES":
        dates = period_dates(filters)
        if dates is None:
            return {}
        start, end = dates
        before = previous_period(start, end)
        current = _sales_figures(connection, business, start, end)
        period = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        period["label"] = period_label(period)
        previous, previous_period_info = {}, None
        if before is not None:  # None: the period starts at year 1
            previous = _sales_figures(connection, business, *before)
            previous_period_info = {"start_date": before[0].isoformat(), "end_date": before[1].isoformat()}
            previous_period_info["label"] = period_label(previous_period_info)
    elif export_type == "INVENTORY":
        current = _inventory_figures(connection, business)
        period = {"start_date": today.isoformat(), "end_date": today.isoformat()}
        period["label"] = f"on {period_label(period)}"
        previous, previous_period_info = {}, None
        if previous_snapshot and previous_snapshot.get("figures"):
            previous = {
                f["key"]: (Decimal(f["current"]) if f["kind"] == "money" else f["current"])
                for f in previous_snapshot["figures"]
                if f.get("current") is not None
            }
            previous_period_info = dict(previous_snapshot.get("period") or {})
    else:
        return {}
    return {
        "export_type": export_type,
        "headline": HEADLINE[export_type],
        "period": period,
        "previous_period": previous_period_info,
        "figures": [_figure(key, value, previous.get(key)) for key, value in current.items()],
    }


def headline_figure(summary: dict | None) -> dict[str, Any] | None:
    """The headline figure of a stored summary (sales, or stock value), or None."""
    if not summary:
        return None
    return next((f for f in summary.get("figures", []) if f["key"] == summary.get("headline")), None)


def last_inventory_summary(connection: Connection, business: Business, before: datetime) -> dict | None:
    """The summary the business's last finished inventory run recorded before `before` (read on
    the export's own connection: the caller's session stays out of a transaction)."""
    from dashboard.models.automation import ExportHistory

    history = ExportHistory.__table__
    rows = connection.execute(
        select(history.c.summary)
        .where(
            history.c.business_id == business.id,
            history.c.export_type == "INVENTORY",
            history.c.status.in_(("COMPLETED", "EMAILED")),
            history.c.completed_at < before,
        )
        .order_by(history.c.completed_at.desc())
        .limit(5)
    ).scalars()
    return next((summary for summary in rows if summary and summary.get("figures")), None)


def display_value(kind: str, value: Any, currency: str = "") -> str:
    """A figure as people read it: 1,234.50 (money), 42 (a count), — (none)."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    return f"{Decimal(value):,.2f}"


def display_change(change: float | None) -> str:
    """ "+12.5%", "−3.0%", "0.0%", or "—" when there is nothing to compare with."""
    if change is None:
        return "—"
    if change > 0:
        return f"+{change:.1f}%"
    if change < 0:
        return f"−{abs(change):.1f}%"
    return "0.0%"


def comparison_display(summary: dict | None) -> dict[str, Any]:
    """A stored summary as the mail shows it: {"period", "previous", "rows": [{"label", "current",
    "previous", "change", "direction", "tone"}]}; {} when there is nothing to show. `tone`: "good"
    or "bad" news (more refunds is bad), "" for no change."""
    if not summary or not summary.get("figures"):
        return {}
    rows = []
    for figure in summary["figures"]:
        change = figure.get("change_percent")
        rows.append(
            {
                "label": figure["label"],
                "current": display_value(figure["kind"], figure["current"]),
                "previous": display_value(figure["kind"], figure["previous"]),
                "change": display_change(change),
                "direction": "" if not change else ("up" if change > 0 else "down"),
                "tone": ""
                if not change
                else ("good" if (change > 0) != (figure["key"] in LOWER_IS_BETTER) else "bad"),
            }
        )
    previous = summary.get("previous_period") or {}
    return {
        "period": (summary.get("period") or {}).get("label", ""),
        "previous": previous.get("label", "") or "no earlier figures",
        "rows": rows,
    }
