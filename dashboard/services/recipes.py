"""Recipes: ready-made schedules, declared once here.

The API answers them at `GET recipes/` (contract section 6) and the new-schedule page offers them
at its top, where one click fills the form. Each `schedule` is a body `POST schedules/` accepts as
it is (recipients may be added; `include_creator_email` sends it to whoever creates it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recipe:
    id: str
    name: str
    description: str
    schedule: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "schedule": self.schedule_body(),
        }

    def schedule_body(self) -> dict[str, Any]:
        """A fresh copy: callers add recipients to it."""
        return copy.deepcopy(self.schedule)


def _schedule(name: str, export_type: str, frequency: str, hour: int, filters: dict, **timing: Any) -> dict:
    return {
        "name": name,
        "export_type": export_type,
        "format": "excel",
        "frequency": frequency,
        "hour": hour,
        "minute": 0,
        **timing,
        "filters": filters,
        "recipients": [],
        "include_creator_email": True,
        "is_active": True,
    }


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "yesterdays-sales",
        "Yesterday's sales every morning at 7",
        "Every day at 07:00, yesterday's receipts as an Excel workbook.",
        _schedule("Yesterday's sales", "SALES", "DAILY", 7, {"date_range": "yesterday"}),
    ),
    Recipe(
        "last-weeks-sales",
        "Last week's sales on Monday at 8",
        "Every Monday at 08:00, the previous Monday-to-Sunday week of sales.",
        _schedule("Last week's sales", "SALES", "WEEKLY", 8, {"date_range": "previous_week"}, day_of_week=0),
    ),
    Recipe(
        "inventory-month-end",
        "Inventory at month end",
        "On the last day of each month at 20:00, stock on hand with its value.",
        _schedule(
            "Inventory at month end",
            "INVENTORY",
            "MONTHLY",
            20,
            {"exclude_zero_value": True},
            day_of_month=-1,
        ),
    ),
    Recipe(
        "customers-store-credit",
        "Customers with store credit each month",
        "On the 1st of each month at 08:00, every customer with their credit charged, paid and owed.",
        _schedule(
            "Customers with store credit",
            "CUSTOMERS",
            "MONTHLY",
            8,
            {"include_credit_history": True},
            day_of_month=1,
        ),
    ),
    Recipe(
        "weekly-audit-log",
        "This week's audit log on Friday",
        "Every Friday at 17:00, who did what since Monday.",
        _schedule(
            "This week's audit log", "AUDIT_LOGS", "WEEKLY", 17, {"date_range": "week_to_date"}, day_of_week=4
        ),
    ),
)
_BY_ID = {recipe.id: recipe for recipe in RECIPES}


def list_recipes() -> list[Recipe]:
    return list(RECIPES)


def get_recipe(recipe_id: str | None) -> Recipe | None:
    return _BY_ID.get(str(recipe_id or ""))
