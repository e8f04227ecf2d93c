"""The request examples of the OpenAPI document: the documented usage examples and the contract's
additions. Tests send each one and expect it to be accepted as written."""

from __future__ import annotations

from typing import Any

SCHEDULE_EXAMPLES: dict[str, Any] = {
    "daily_sales_at_8": {
        "name": "Daily Sales Report - 8 AM",
        "export_type": "SALES",
        "format": "excel",
        "frequency": "DAILY",
        "hour": 8,
        "recipients": ["accounting@company.com"],
        "include_creator_email": True,
        "email_subject": "Daily Sales Report",
        "filters": {"date_range": "yesterday"},
        "is_active": True,
    },
    "weekly_customers_on_monday": {
        "name": "Weekly Customer List - Monday 9 AM",
        "export_type": "CUSTOMERS",
        "format": "csv",
        "frequency": "WEEKLY",
        "hour": 9,
        "day_of_week": 0,
        "recipients": ["sales@company.com", "manager@company.com"],
        "include_creator_email": False,
        "email_subject": "Weekly Customer Database",
        "filters": {"include_credit_history": True},
        "is_active": True,
    },
    "monthly_inventory_on_the_1st": {
        "name": "Monthly Inventory Snapshot",
        "export_type": "INVENTORY",
        "format": "pdf",
        "frequency": "MONTHLY",
        "hour": 0,
        "day_of_month": 1,
        "recipients": ["inventory@company.com"],
        "include_creator_email": True,
        "email_subject": "Monthly Inventory Report",
        "email_message": "Please review the attached inventory snapshot for the previous month.",
        "filters": {"exclude_zero_value": True},
        "is_active": True,
    },
    "last_friday_in_new_york": {
        "name": "Month-end audit",
        "export_type": "AUDIT_LOGS",
        "format": "csv",
        "frequency": "MONTHLY",
        "hour": 17,
        "minute": 30,
        "week_of_month": -1,
        "day_of_week": 4,
        "timezone": "America/New_York",
        "filters": {"date_range": "month_to_date"},
        "skip_if_empty": True,
    },
}

PREVIEW_EXAMPLES: dict[str, Any] = {
    "spring_forward": {
        "frequency": "DAILY",
        "hour": 2,
        "minute": 30,
        "timezone": "America/New_York",
        "after": "2027-03-12T00:00:00Z",
        "count": 3,
    },
    "second_tuesday": {"frequency": "MONTHLY", "hour": 9, "week_of_month": 2, "day_of_week": 1},
}

TRIGGER_EXAMPLES: dict[str, Any] = {
    "as_configured": {},
    "to_someone_else": {"send_email": True, "override_recipients": ["auditor@company.com"]},
    "no_mail": {"send_email": False},
}

ONE_OFF_EXAMPLES: dict[str, Any] = {
    "last_month_sales": {
        "export_type": "SALES",
        "format": "csv",
        "filters": {"date_range": "previous_month"},
        "recipients": ["accounting@company.com"],
    },
    "stock_now": {"export_type": "INVENTORY", "format": "excel", "filters": {"exclude_zero_value": True}},
}

NOTIFICATION_EXAMPLES: dict[str, Any] = {
    "all_mail": {
        "notify_on_success": True,
        "notify_on_failure": True,
        "default_recipients": ["admin@company.com"],
        "from_name": "POS Export Service",
        "reply_to_email": "noreply@company.com",
    },
}
