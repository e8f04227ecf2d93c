"""Every validation rule of CONTRACT section 3: one failing case each, with its field and message."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from dashboard.core.errors import NON_FIELD, ValidationError
from dashboard.services.validation import (
    schedule_data_from_form,
    split_addresses,
    validate_history_params,
    validate_notification_settings,
    validate_one_off_export,
    validate_preview,
    validate_schedule,
    validate_schedule_list_params,
    validate_trigger,
)
from tests.services.service_helpers import utc, valid_schedule

pytestmark = pytest.mark.nodb

TZ = "Europe/London"
MANY = [f"person{i}@example.com" for i in range(51)]


def errors_of(call, *args, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value.errors


# --------------------------------------------------------------------------------------------
# Schedules: one failing case per rule

WEEKLY = {"frequency": "WEEKLY", "day_of_week": 0}
MONTHLY = {"frequency": "MONTHLY", "day_of_month": 1}

SCHEDULE_CASES = [
    # (changes, field, message)
    ({"name": ...}, "name", "Enter a name for the schedule."),
    ({"name": "   "}, "name", "Enter a name for the schedule."),
    ({"name": "x" * 256}, "name", "The name must be at most 255 characters."),
    ({"name": "two\nlines"}, "name", "The name must be a single line."),
    ({"name": 42}, "name", "Enter text."),
    (
        {"export_type": "ORDERS"},
        "export_type",
        "Choose an export type: SALES, CUSTOMERS, INVENTORY or AUDIT_LOGS.",
    ),
    ({"export_type": ...}, "export_type", "This field is required."),
    ({"format": "docx"}, "format", "Choose a format: excel, csv or pdf."),
    ({"format": None}, "format", "Choose a format: excel, csv or pdf."),
    ({"frequency": "HOURLY"}, "frequency", "Choose a frequency: DAILY, WEEKLY or MONTHLY."),
    ({"hour": 24}, "hour", "Enter an hour from 0 to 23."),
    ({"hour": -1}, "hour", "Enter an hour from 0 to 23."),
    ({"hour": "8"}, "hour", "Enter an hour from 0 to 23."),
    ({"hour": True}, "hour", "Enter an hour from 0 to 23."),
    ({"hour": 8.5}, "hour", "Enter an hour from 0 to 23."),
    ({"hour": None}, "hour", "Enter an hour from 0 to 23."),
    ({"hour": ...}, "hour", "Enter an hour from 0 to 23."),
    ({"minute": 60}, "minute", "Enter a minute from 0 to 59."),
    ({"minute": "30"}, "minute", "Enter a minute from 0 to 59."),
    (
        {"timezone": "Mars/Olympus"},
        "timezone",
        "'Mars/Olympus' is not a timezone name such as Europe/London.",
    ),
    ({"timezone": "localtime"}, "timezone", "'localtime' is not a timezone name such as Europe/London."),
    ({"timezone": 3}, "timezone", "Enter a timezone name such as Europe/London."),
    ({"day_of_week": 1}, "day_of_week", "Daily schedules run every day: remove day_of_week."),
    ({"day_of_month": 1}, "day_of_month", "Daily schedules run every day: remove day_of_month."),
    ({"week_of_month": 1}, "week_of_month", "Daily schedules run every day: remove week_of_month."),
    ({"frequency": "WEEKLY"}, "day_of_week", "Weekly schedules need a day of the week."),
    ({**WEEKLY, "day_of_week": 7}, "day_of_week", "Enter a day of the week from 0 (Monday) to 6 (Sunday)."),
    (
        {**WEEKLY, "day_of_week": "Monday"},
        "day_of_week",
        "Enter a day of the week from 0 (Monday) to 6 (Sunday).",
    ),
    (
        {**WEEKLY, "day_of_month": 3},
        "day_of_month",
        "Weekly schedules run on a day of the week: remove day_of_month.",
    ),
    (
        {**WEEKLY, "week_of_month": 2},
        "week_of_month",
        "Weekly schedules run on a day of the week: remove week_of_month.",
    ),
    (
        {"frequency": "MONTHLY"},
        NON_FIELD,
        "Monthly schedules need a day_of_month, or a week_of_month with a day_of_week (e.g. the 2nd Tuesday).",
    ),
    (
        {**MONTHLY, "day_of_month": 32},
        "day_of_month",
        "Enter a day of the month from 1 to 31, or -1 for the last day.",
    ),
    (
        {**MONTHLY, "day_of_month": 0},
        "day_of_month",
        "Enter a day of the month from 1 to 31, or -1 for the last day.",
    ),
    (
        {**MONTHLY, "day_of_month": -2},
        "day_of_month",
        "Enter a day of the month from 1 to 31, or -1 for the last day.",
    ),
    (
        {**MONTHLY, "week_of_month": 2, "day_of_week": 1},
        NON_FIELD,
        "Monthly schedules run on a day_of_month or on a week_of_month with a day_of_week, not both.",
    ),
    (
        {"frequency": "MONTHLY", "week_of_month": 2},
        "day_of_week",
        "Choose the day of the week for week_of_month (e.g. 2 and 1 for the 2nd Tuesday).",
    ),
    (
        {"frequency": "MONTHLY", "day_of_week": 4},
        "week_of_month",
        "Choose which week of the month (1 to 4, or -1 for the last) to run on this day of the week.",
    ),
    (
        {"frequency": "MONTHLY", "week_of_month": 5, "day_of_week": 1},
        "week_of_month",
        "Enter a week of the month from 1 to 4, or -1 for the last week.",
    ),
    (
        {"recipients": "a@example.com"},
        "recipients",
        'Enter a list of e-mail addresses, for example ["accounts@example.com"].',
    ),
    (
        {"recipients": {"a": 1}},
        "recipients",
        'Enter a list of e-mail addresses, for example ["accounts@example.com"].',
    ),
    ({"recipients": ["not-an-address"]}, "recipients", "'not-an-address' is not a valid e-mail address."),
    (
        {"recipients": ["someone@localhost"]},
        "recipients",
        "'someone@localhost' is not a valid e-mail address.",
    ),
    ({"recipients": [5]}, "recipients", "'5' is not a valid e-mail address."),
    ({"recipients": MANY}, "recipients", "At most 50 recipients."),
    ({"include_creator_email": "yes"}, "include_creator_email", "Enter true or false."),
    ({"skip_if_empty": 1}, "skip_if_empty", "Enter true or false."),
    ({"is_active": None}, "is_active", "Enter true or false."),
    (
        {"email_subject": "Hello\r\nBcc: evil@example.com"},
        "email_subject",
        "The subject must be a single line.",
    ),
    ({"email_subject": "s" * 256}, "email_subject", "The subject must be at most 255 characters."),
    ({"email_subject": ["x"]}, "email_subject", "Enter text."),
    ({"email_message": "m" * 5001}, "email_message", "The message must be at most 5,000 characters."),
    ({"filters": "yesterday"}, "filters", "Filters must be a JSON object, for example {}."),
    ({"filters": {}}, "filters.date_range", "Choose a date range, or give a start date and an end date."),
    (
        {"filters": {"start_date": "2024-02-30", "end_date": "2024-03-01"}},
        "filters.start_date",
        "Enter a real date as YYYY-MM-DD, for example 2024-03-15.",
    ),
    (
        {"filters": {"start_date": "2024-03-02", "end_date": "2024-03-01"}},
        "filters.end_date",
        "The end date must be on or after the start date.",
    ),
    (
        {"export_type": "CUSTOMERS", "filters": {"colour": "red"}},
        "filters",
        "Unknown filter 'colour' for Customers exports (allowed: include_credit_history).",
    ),
    (
        {"export_type": "INVENTORY", "filters": {"exclude_zero_value": "yes"}},
        "filters.exclude_zero_value",
        "Must be true or false.",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), SCHEDULE_CASES)
def test_schedule_rule(changes, field, message):
    errors = errors_of(validate_schedule, valid_schedule(**changes), TZ)
    assert message in errors.get(field, []), errors


def test_all_errors_come_back_at_once():
    data = valid_schedule(name="", hour=99, minute=-1, format="doc", recipients=["bad"], timezone="Nowhere")
    errors = errors_of(validate_schedule, data, TZ)
    assert set(errors) == {"name", "hour", "minute", "format", "recipients", "timezone"}


def test_body_that_is_not_an_object():
    assert errors_of(validate_schedule, ["name"], TZ) == {NON_FIELD: ["Send the schedule as a JSON object."]}


def test_bad_addresses_are_summarized_after_ten():
    errors = errors_of(validate_schedule, valid_schedule(recipients=[f"bad{i}" for i in range(25)]), TZ)
    assert len(errors["recipients"]) == 11
    assert errors["recipients"][-1] == "... and 15 more addresses that are not valid."


# --------------------------------------------------------------------------------------------
# Schedules: what passes, and how it comes out


def test_defaults_and_normalization():
    data = valid_schedule(export_type="sales", format="EXCEL", frequency="daily")
    del data["is_active"], data["include_creator_email"]
    cleaned = validate_schedule(data, TZ)
    assert cleaned["export_type"] == "SALES" and cleaned["format"] == "excel"
    assert cleaned["frequency"] == "DAILY"
    assert cleaned["minute"] == 0
    assert cleaned["timezone"] == TZ  # the business's
    assert cleaned["is_active"] is True and cleaned["include_creator_email"] is False
    assert cleaned["skip_if_empty"] is False
    assert cleaned["day_of_week"] is None and cleaned["day_of_month"] is None


def test_recipients_deduplicated_case_insensitively_in_order():
    data = valid_schedule(
        recipients=["Ann@Example.com", " bob@example.com ", "ann@example.COM", "", "BOB@example.com"]
    )
    assert validate_schedule(data, TZ)["recipients"] == ["Ann@example.com", "bob@example.com"]


def test_fifty_distinct_recipients_pass_even_with_duplicates():
    recipients = MANY[:50] + [a.upper() for a in MANY[:10]]
    assert len(validate_schedule(valid_schedule(recipients=recipients), TZ)["recipients"]) == 50


def test_recipient_cap_follows_the_limit_given():
    from dashboard.core.errors import ErrorCollector
    from dashboard.services.validation import clean_recipients

    errors = ErrorCollector()
    assert clean_recipients(errors, "recipients", MANY[:3], limit=2) is None
    assert errors.errors == {"recipients": ["At most 2 recipients."]}


def test_read_only_fields_are_ignored_and_unknown_fields_refused():
    data = valid_schedule(
        id="x",
        next_run_at="2020-01-01T00:00:00Z",
        created_by_name="Eve",
        status_display="Active",
        format_display="CSV",
    )
    cleaned = validate_schedule(data, TZ)
    assert "id" not in cleaned and "next_run_at" not in cleaned
    # An unknown field is named (contract section 6): a typo is never dropped silently.
    with pytest.raises(ValidationError) as caught:
        validate_schedule(valid_schedule(colour="red"), TZ)
    assert caught.value.errors == {"colour": ["Unknown field."]}


@pytest.mark.parametrize(
    "timing",
    [
        {"frequency": "WEEKLY", "day_of_week": 6},
        {"frequency": "MONTHLY", "day_of_month": 31},
        {"frequency": "MONTHLY", "day_of_month": -1},
        {"frequency": "MONTHLY", "week_of_month": 2, "day_of_week": 1},
        {"frequency": "MONTHLY", "week_of_month": -1, "day_of_week": 4},
        {"frequency": "DAILY", "day_of_week": None, "day_of_month": None, "week_of_month": None},
        {"frequency": "DAILY", "hour": 23, "minute": 59, "timezone": "Asia/Kolkata"},
        {"frequency": "DAILY", "timezone": None},
    ],
)
def test_valid_timings(timing):
    cleaned = validate_schedule(valid_schedule(**timing), TZ)
    for key, value in timing.items():
        if key == "timezone" and value is None:
            value = TZ
        assert cleaned[key] == value


def test_filters_come_back_normalized():
    data = valid_schedule(export_type="CUSTOMERS", filters={"include_credit_history": True})
    assert validate_schedule(data, TZ)["filters"] == {"include_credit_history": True}
    data = valid_schedule(filters={"date_range": "last_7_days", "start_date": ""})
    assert validate_schedule(data, TZ)["filters"] == {"date_range": "last_7_days"}


def test_text_fields_are_stripped_and_null_is_empty():
    cleaned = validate_schedule(valid_schedule(name="  Weekly  ", email_subject=None, email_message=None), TZ)
    assert cleaned["name"] == "Weekly"
    assert cleaned["email_subject"] == "" and cleaned["email_message"] == ""


# --------------------------------------------------------------------------------------------
# Updates: PUT (required fields) and PATCH (partial), merged onto the current values


def current(**changes) -> dict:
    values = validate_schedule(valid_schedule(**changes), TZ)
    return values


def test_patch_validates_only_given_fields():
    base = current()
    cleaned = validate_schedule({"hour": 9}, TZ, current=base, partial=True)
    assert cleaned == {**base, "hour": 9}


def test_patch_error_names_only_the_bad_field():
    errors = errors_of(validate_schedule, {"hour": 30}, TZ, current=current(), partial=True)
    assert errors == {"hour": ["Enter an hour from 0 to 23."]}


def test_put_needs_required_fields():
    errors = errors_of(validate_schedule, {"hour": 9}, TZ, current=current(), partial=False)
    assert set(errors) == {"name", "export_type", "format", "frequency"}


def test_put_keeps_optional_fields_left_out():
    base = current(is_active=False, timezone="Asia/Tokyo")
    data = {k: v for k, v in valid_schedule().items() if k not in ("is_active", "recipients")}
    cleaned = validate_schedule(data, TZ, current=base)
    assert cleaned["is_active"] is False and cleaned["timezone"] == "Asia/Tokyo"
    assert cleaned["recipients"] == base["recipients"]


def test_cross_field_rules_run_on_the_merged_result():
    base = current()  # DAILY
    errors = errors_of(validate_schedule, {"frequency": "WEEKLY"}, TZ, current=base, partial=True)
    assert errors == {"day_of_week": ["Weekly schedules need a day of the week."]}
    weekly = current(frequency="WEEKLY", day_of_week=2)
    errors = errors_of(validate_schedule, {"day_of_month": 3}, TZ, current=weekly, partial=True)
    assert errors == {"day_of_month": ["Weekly schedules run on a day of the week: remove day_of_month."]}


def test_changing_frequency_drops_day_fields_not_sent():
    weekly = current(frequency="WEEKLY", day_of_week=2)
    cleaned = validate_schedule({"frequency": "DAILY"}, TZ, current=weekly, partial=True)
    assert cleaned["frequency"] == "DAILY" and cleaned["day_of_week"] is None
    # ...but a day field that is sent is checked, never dropped.
    errors = errors_of(
        validate_schedule, {"frequency": "DAILY", "day_of_week": 2}, TZ, current=weekly, partial=True
    )
    assert errors == {"day_of_week": ["Daily schedules run every day: remove day_of_week."]}


def test_monthly_day_and_week_give_way_to_what_is_sent():
    second_tuesday = current(frequency="MONTHLY", week_of_month=2, day_of_week=1)
    cleaned = validate_schedule({"day_of_month": 5}, TZ, current=second_tuesday, partial=True)
    assert (cleaned["day_of_month"], cleaned["week_of_month"], cleaned["day_of_week"]) == (5, None, None)
    fifth = current(frequency="MONTHLY", day_of_month=5)
    cleaned = validate_schedule({"week_of_month": -1, "day_of_week": 4}, TZ, current=fifth, partial=True)
    assert (cleaned["day_of_month"], cleaned["week_of_month"], cleaned["day_of_week"]) == (None, -1, 4)
    weekly = current(frequency="WEEKLY", day_of_week=1)
    cleaned = validate_schedule(
        {"frequency": "MONTHLY", "week_of_month": 2}, TZ, current=weekly, partial=True
    )
    assert (cleaned["week_of_month"], cleaned["day_of_week"]) == (2, 1)  # the 2nd Tuesday


def test_changing_export_type_rechecks_the_stored_filters():
    errors = errors_of(validate_schedule, {"export_type": "INVENTORY"}, TZ, current=current(), partial=True)
    assert list(errors) == ["filters"]
    cleaned = validate_schedule(
        {"export_type": "INVENTORY", "filters": {"exclude_zero_value": True}},
        TZ,
        current=current(),
        partial=True,
    )
    assert cleaned["filters"] == {"exclude_zero_value": True}


def test_patch_of_the_name_does_not_recheck_stored_filters():
    base = {**current(), "filters": {"legacy_key": 1}}
    assert validate_schedule({"name": "Renamed"}, TZ, current=base, partial=True)["name"] == "Renamed"


# --------------------------------------------------------------------------------------------
# Trigger, one-off export, preview


def test_trigger_defaults():
    assert validate_trigger(None) == {"send_email": True, "override_recipients": None}
    assert validate_trigger({}) == {"send_email": True, "override_recipients": None}
    assert validate_trigger({"override_recipients": []})["override_recipients"] is None


def test_trigger_override_recipients_cleaned():
    result = validate_trigger(
        {"send_email": False, "override_recipients": ["A@example.com", "a@EXAMPLE.com"]}
    )
    assert result == {"send_email": False, "override_recipients": ["A@example.com"]}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"send_email": "yes"}, "send_email", "Enter true or false."),
        (
            {"override_recipients": "a@example.com"},
            "override_recipients",
            'Enter a list of e-mail addresses, for example ["accounts@example.com"].',
        ),
        ({"override_recipients": ["nope"]}, "override_recipients", "'nope' is not a valid e-mail address."),
        ({"override_recipients": MANY}, "override_recipients", "At most 50 recipients."),
        ("send", NON_FIELD, "Send the request as a JSON object."),
    ],
)
def test_trigger_rule(data, field, message):
    assert message in errors_of(validate_trigger, data)[field]


def test_one_off_export():
    result = validate_one_off_export(
        {"export_type": "inventory", "format": "PDF", "recipients": ["x@example.com"]}
    )
    assert result == {
        "export_type": "INVENTORY",
        "format": "pdf",
        "formats": None,  # just `format` (contract section 6: several formats are a list)
        "filters": {},
        "recipients": ["x@example.com"],
    }
    # An unknown field is a 400 naming it (contract section 6), no longer dropped.
    assert errors_of(validate_one_off_export, {"export_type": "SALES", "format": "csv", "extra": 1})[
        "extra"
    ] == ["Unknown field."]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"format": "csv"},
            "export_type",
            "Choose an export type: SALES, CUSTOMERS, INVENTORY or AUDIT_LOGS.",
        ),
        ({"export_type": "INVENTORY"}, "format", "Choose a format: excel, csv or pdf."),
        (
            {"export_type": "SALES", "format": "csv"},
            "filters.date_range",
            "Choose a date range, or give a start date and an end date.",
        ),
        (
            {"export_type": "INVENTORY", "format": "csv", "filters": []},
            "filters",
            "Filters must be a JSON object, for example {}.",
        ),
        (
            {"export_type": "INVENTORY", "format": "csv", "recipients": ["bad"]},
            "recipients",
            "'bad' is not a valid e-mail address.",
        ),
        (
            {"export_type": "INVENTORY", "format": "csv", "recipients": MANY},
            "recipients",
            "At most 50 recipients.",
        ),
    ],
)
def test_one_off_export_rule(data, field, message):
    assert message in errors_of(validate_one_off_export, data)[field]


def test_preview_defaults():
    now = utc(2027, 3, 1, 12)
    request = validate_preview({"frequency": "DAILY", "hour": 8}, "America/New_York", now=now)
    assert request.timing.timezone == "America/New_York" and request.timing.minute == 0
    assert request.after == now and request.count == 5


def test_preview_after_with_offset_and_naive():
    request = validate_preview(
        {"frequency": "DAILY", "hour": 8, "after": "2027-03-14T07:30:00Z", "count": 50}, "UTC"
    )
    assert request.after == utc(2027, 3, 14, 7, 30) and request.count == 50
    # Without an offset, `after` is wall-clock time in the timing's zone.
    request = validate_preview(
        {"frequency": "DAILY", "hour": 8, "timezone": "America/New_York", "after": "2027-01-10T00:00"}, "UTC"
    )
    assert request.after == utc(2027, 1, 10, 5)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"frequency": "DAILY"}, "hour", "Enter an hour from 0 to 23."),
        ({"hour": 8}, "frequency", "This field is required."),
        ({"frequency": "WEEKLY", "hour": 8}, "day_of_week", "Weekly schedules need a day of the week."),
        (
            {"frequency": "DAILY", "hour": 8, "timezone": "Mars/Olympus"},
            "timezone",
            "'Mars/Olympus' is not a timezone name such as Europe/London.",
        ),
        (
            {"frequency": "DAILY", "hour": 8, "after": "tomorrow"},
            "after",
            "Enter a date and time in ISO 8601, for example 2027-03-14T07:30:00Z.",
        ),
        (
            {"frequency": "DAILY", "hour": 8, "after": 1700000000},
            "after",
            "Enter a date and time in ISO 8601, for example 2027-03-14T07:30:00Z.",
        ),
        ({"frequency": "DAILY", "hour": 8, "count": 0}, "count", "Enter a count from 1 to 50."),
        ({"frequency": "DAILY", "hour": 8, "count": 51}, "count", "Enter a count from 1 to 50."),
        ({"frequency": "DAILY", "hour": 8, "count": "5"}, "count", "Enter a count from 1 to 50."),
    ],
)
def test_preview_rule(data, field, message):
    assert message in errors_of(validate_preview, data, "UTC")[field]


# --------------------------------------------------------------------------------------------
# Notification settings

SETTINGS = {
    "notify_on_success": False,
    "notify_on_failure": True,
    "default_recipients": [],
    "from_name": "Corner Café",
    "reply_to_email": "",
    "allowed_recipient_domains": [],
}


def test_notification_settings_clean_and_keep_what_is_left_out():
    result = validate_notification_settings(
        {
            "notify_on_success": True,
            "default_recipients": ["Admin@Example.com", "admin@example.com"],
            "reply_to_email": "noreply@company.com",
        },
        SETTINGS,
    )
    assert result == {
        **SETTINGS,
        "notify_on_success": True,
        "default_recipients": ["Admin@example.com"],
        "reply_to_email": "noreply@company.com",
    }
    assert validate_notification_settings({"reply_to_email": None}, SETTINGS)["reply_to_email"] == ""


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"notify_on_success": "true"}, "notify_on_success", "Enter true or false."),
        ({"notify_on_failure": 0}, "notify_on_failure", "Enter true or false."),
        ({"default_recipients": ["bad"]}, "default_recipients", "'bad' is not a valid e-mail address."),
        ({"default_recipients": MANY}, "default_recipients", "At most 50 recipients."),
        ({"from_name": "n" * 256}, "from_name", "The sender name must be at most 255 characters."),
        ({"from_name": "Shop\nBcc: x@example.com"}, "from_name", "The sender name must be a single line."),
        (
            {"reply_to_email": "not an address"},
            "reply_to_email",
            "'not an address' is not a valid e-mail address.",
        ),
        (
            {"reply_to_email": ["a@example.com"]},
            "reply_to_email",
            "Enter an e-mail address, for example accounts@example.com.",
        ),
    ],
)
def test_notification_settings_rule(data, field, message):
    assert message in errors_of(validate_notification_settings, data, SETTINGS)[field]


# --------------------------------------------------------------------------------------------
# List parameters


def test_history_params_parsed():
    schedule_id = uuid.uuid4()
    result = validate_history_params(
        {
            "export_type": "sales",
            "format": "CSV",
            "status": "failed",
            "trigger": "api",
            "schedule_id": str(schedule_id),
            "start_date": "2024-03-01",
            "end_date": "2024-03-01",
            "page": "3",
            "page_size": "500",
            "unknown": "x",
        }
    )
    assert result == {
        "export_type": "SALES",
        "format": "csv",
        "status": "FAILED",
        "trigger": "API",
        "schedule_id": schedule_id,
        "start_date": date(2024, 3, 1),
        "end_date": date(2024, 3, 1),
        "page": 3,
        "page_size": 100,
        "cursor": None,
    }


def test_history_params_defaults_and_empty_values():
    result = validate_history_params({"export_type": "", "start_date": " "})
    assert result["export_type"] is None and result["start_date"] is None
    assert (result["page"], result["page_size"]) == (1, 20)


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        (
            {"export_type": "ORDERS"},
            "export_type",
            "Choose an export type: SALES, CUSTOMERS, INVENTORY or AUDIT_LOGS.",
        ),
        ({"format": "xls"}, "format", "Choose a format: excel, csv or pdf."),
        ({"status": "DONE"}, "status", "Choose a status: PENDING, PROCESSING, COMPLETED, FAILED, EMAILED."),
        ({"trigger": "CRON"}, "trigger", "Choose a trigger: MANUAL, SCHEDULED, API."),
        ({"schedule_id": "12"}, "schedule_id", "Enter a schedule id (a UUID)."),
        ({"start_date": "01/03/2024"}, "start_date", "Enter a date as YYYY-MM-DD, for example 2024-03-15."),
        ({"end_date": "2024-02-30"}, "end_date", "Enter a date as YYYY-MM-DD, for example 2024-03-15."),
        (
            {"start_date": "2024-03-02", "end_date": "2024-03-01"},
            "end_date",
            "The end date must be on or after the start date.",
        ),
        ({"page": "0"}, "page", "Enter a page number of 1 or more."),
        ({"page": "two"}, "page", "Enter a page number of 1 or more."),
        ({"page_size": "-5"}, "page_size", "Enter a page size of 1 or more."),
    ],
)
def test_history_params_rule(args, field, message):
    assert message in errors_of(validate_history_params, args)[field]


def test_schedule_list_params():
    result = validate_schedule_list_params(
        {"is_active": "false", "export_type": "sales", "search": " Daily "}
    )
    assert result == {
        "is_active": False,
        "export_type": "SALES",
        "frequency": None,
        "search": "Daily",
        "page": 1,
        "page_size": 20,
    }
    assert errors_of(validate_schedule_list_params, {"is_active": "maybe"}) == {
        "is_active": ["Enter true or false."]
    }
    assert "frequency" in errors_of(validate_schedule_list_params, {"frequency": "HOURLY"})


# --------------------------------------------------------------------------------------------
# Forms


def test_split_addresses():
    assert split_addresses("a@example.com, b@example.com;\nc@example.com  ") == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert split_addresses(None) == []


def test_form_data_becomes_json_types():
    form = {
        "name": "Weekly",
        "export_type": "CUSTOMERS",
        "format": "csv",
        "frequency": "WEEKLY",
        "hour": "9",
        "minute": "",
        "day_of_week": "0",
        "day_of_month": "",
        "recipients": "sales@company.com\nmanager@company.com",
        "is_active": "y",
        "filters.include_credit_history": "y",
        "filters.start_date": "2024-01-01",  # not a CUSTOMERS filter: ignored
    }
    data = schedule_data_from_form(form)
    assert data["hour"] == 9 and data["minute"] == 0 and data["day_of_week"] == 0
    assert data["day_of_month"] is None and data["is_active"] is True and data["skip_if_empty"] is False
    assert data["filters"] == {"include_credit_history": True}
    cleaned = validate_schedule(data, TZ)
    assert cleaned["recipients"] == ["sales@company.com", "manager@company.com"]
    # A non-number stays a string, so the validator names the field.
    errors = errors_of(validate_schedule, schedule_data_from_form({**form, "hour": "eight"}), TZ)
    assert errors == {"hour": ["Enter an hour from 0 to 23."]}


def test_a_null_formats_alone_is_no_format():
    """`"formats": null` with no `format` left the schedule without one (a 500 on saving it)."""
    errors = errors_of(validate_schedule, valid_schedule(format=..., formats=None), TZ)
    assert errors.get("format") == ["Choose a format: excel, csv or pdf."], errors
