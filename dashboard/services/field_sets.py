"""Every input field of the product, declared once (the mechanism is `dashboard.services.fields`).

The schedule, the one-off export, the trigger, the preview, the notification settings and the two
list query strings: each field's kind, range or choices, nullability, default, messages (word for
word what people read) and where it applies. `services.validation` cleans requests with these
sets, `api/openapi_schemas.py` writes the document's components from them and `web/forms.py`
builds the page forms from them.

How to add a field: add a `Field(...)` to the set that takes it below (see the `fields` module's
docstring for what each keyword means); nothing else needs to learn about it.
"""

from __future__ import annotations

from dashboard.core import addresses
from dashboard.core.labels import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from dashboard.exports.conditions import MSG_CONDITIONS, ConditionsKind, check_conditions_type
from dashboard.models.automation import EXPORT_TYPES, FORMATS, FREQUENCIES, STATUSES, TRIGGERS
from dashboard.services.destination_fields import DestinationList, FilePassword
from dashboard.services.field_kinds import (
    Address,
    Addresses,
    Boolean,
    Choice,
    ChoiceList,
    Count,
    Day,
    Domains,
    Flag,
    Instant,
    Integer,
    JsonObject,
    Opaque,
    Text,
    Timezone,
    parse_uuid,
)
from dashboard.services.field_rules import (
    DAY_FIELDS,
    FILTERS_RULE,
    FORMATS_RULE,
    filter_properties,
    timing_rule,
)
from dashboard.services.fields import Context, Field, FieldSet, Rule
from dashboard.services.keyset import decode_cursor

EMAIL_MESSAGE_MAX_LENGTH = 5000
MAX_PREVIEW_COUNT = 50
DEFAULT_PREVIEW_COUNT = 5
# Larger numbers are refused rather than guessed at (a page size is clamped to MAX_PAGE_SIZE).
MAX_PAGE_NUMBER = 999_999_999

MSG_NAME_REQUIRED = "Enter a name for the schedule."
MSG_NAME_LONG = "The name must be at most 255 characters."
MSG_NAME_LINES = "The name must be a single line."
MSG_EXPORT_TYPE = "Choose an export type: SALES, CUSTOMERS, INVENTORY or AUDIT_LOGS."
MSG_FORMAT = "Choose a format: excel, csv or pdf."
MSG_FORMATS = "Choose one or more formats (excel, csv, pdf), each once."
MSG_FREQUENCY = "Choose a frequency: DAILY, WEEKLY or MONTHLY."
MSG_HOUR = "Enter an hour from 0 to 23."
MSG_MINUTE = "Enter a minute from 0 to 59."
MSG_DAY_OF_WEEK = "Enter a day of the week from 0 (Monday) to 6 (Sunday)."
MSG_DAY_OF_MONTH = "Enter a day of the month from 1 to 31, or -1 for the last day."
MSG_WEEK_OF_MONTH = "Enter a week of the month from 1 to 4, or -1 for the last week."
MSG_SUBJECT_LONG = "The subject must be at most 255 characters."
MSG_SUBJECT_LINES = "The subject must be a single line."
MSG_MESSAGE_LONG = f"The message must be at most {EMAIL_MESSAGE_MAX_LENGTH:,} characters."
MSG_FILTERS_OBJECT = "Filters must be a JSON object, for example {}."
MSG_AFTER = "Enter a date and time in ISO 8601, for example 2027-03-14T07:30:00Z."
MSG_COUNT = f"Enter a count from 1 to {MAX_PREVIEW_COUNT}."
MSG_FROM_NAME_LONG = "The sender name must be at most 255 characters."
MSG_FROM_NAME_LINES = "The sender name must be a single line."
MSG_PAGE = "Enter a page number of 1 or more."
MSG_PAGE_LARGE = f"Enter a page number of at most {MAX_PAGE_NUMBER:,}."
MSG_PAGE_SIZE = "Enter a page size of 1 or more."
MSG_PAGE_SIZE_LARGE = (
    f"Enter a page size of at most {MAX_PAGE_NUMBER:,} (above {MAX_PAGE_SIZE} gives {MAX_PAGE_SIZE})."
)
MSG_CURSOR = "This cursor is not valid: follow the list's next or previous link, or ask for a page."
MSG_CURSOR_AND_PAGE = "Send either page or cursor, not both."
MSG_DATE = "Enter a date as YYYY-MM-DD, for example 2024-03-15."
MSG_END_BEFORE_START = "The end date must be on or after the start date."
MSG_SCHEDULE_ID = "Enter a schedule id (a UUID)."
MSG_STATUS = "Choose a status: " + ", ".join(STATUSES) + "."
MSG_TRIGGER = "Choose a trigger: " + ", ".join(TRIGGERS) + "."
MSG_BOOLEAN = "Enter true or false."

TIMING_FIELDS: tuple[str, ...] = ("frequency", "hour", "minute", *DAY_FIELDS, "timezone")
FREQUENCY_LABELS = {"DAILY": "Every day", "WEEKLY": "Every week", "MONTHLY": "Every month"}


def _business_timezone(context: Context) -> str:
    return context.business_timezone


# --------------------------------------------------------------------------------------------
# Schedules

NAME = Field(
    "name",
    Text(255, MSG_NAME_LONG, single_line=True, lines_message=MSG_NAME_LINES, blank_message=MSG_NAME_REQUIRED),
    required=True,
    required_message=MSG_NAME_REQUIRED,
    label="Name",
)
EXPORT_TYPE = Field(
    "export_type",
    Choice(EXPORT_TYPES, upper=True, labels=EXPORT_TYPE_LABELS),
    message=MSG_EXPORT_TYPE,
    required=True,
    label="Export type",
)
FORMAT = Field(
    "format",
    Choice(FORMATS, upper=False, labels=FORMAT_LABELS),
    message=MSG_FORMAT,
    required=True,
    label="File format",
)
# Requests that take several formats: `format` or `formats` (FORMATS_RULE), `format` the first.
OPTIONAL_FORMAT = FORMAT.but(
    required=False, description="The (first) file format; required unless `formats` is given."
)
FORMATS_FIELD = Field(
    "formats",
    ChoiceList(FORMATS, upper=False),
    message=MSG_FORMATS,
    nullable=True,
    label="File formats",
    description="Every format each run makes: one file per format, all in one mail (attached or "
    "linked, judged on their total size). `format` is the first. Null or left out: just `format`.",
)
FREQUENCY = Field(
    "frequency",
    Choice(FREQUENCIES, upper=True, labels=FREQUENCY_LABELS),
    message=MSG_FREQUENCY,
    required=True,
    label="How often",
)
HOUR = Field(
    "hour",
    Integer(0, 23),
    message=MSG_HOUR,
    required=True,
    required_message=MSG_HOUR,
    label="Hour",
    description="Wall-clock hour in `timezone`.",
)
# null minute means "on the hour", as schedules made before minutes existed behave.
MINUTE = Field("minute", Integer(0, 59), message=MSG_MINUTE, nullable=True, default=0, label="Minute")
DAY_OF_WEEK = Field(
    "day_of_week",
    Integer(0, 6),
    message=MSG_DAY_OF_WEEK,
    nullable=True,
    frequencies=("WEEKLY", "MONTHLY"),
    label="Day of the week",
    description="0 = Monday ... 6 = Sunday. WEEKLY needs it; MONTHLY with `week_of_month` too.",
)
DAY_OF_MONTH = Field(
    "day_of_month",
    Integer(1, 31, also=(-1,)),
    message=MSG_DAY_OF_MONTH,
    nullable=True,
    frequencies=("MONTHLY",),
    label="Day of the month",
    description="MONTHLY: 1-31, or -1 for the last day; a day past a month's end runs on its last day.",
)
WEEK_OF_MONTH = Field(
    "week_of_month",
    Integer(1, 4, also=(-1,)),
    message=MSG_WEEK_OF_MONTH,
    nullable=True,
    frequencies=("MONTHLY",),
    label="Which week",
    description='MONTHLY with `day_of_week`: 1-4, or -1 for the last ("2nd Tuesday", "last Friday").',
)
TIMEZONE = Field(
    "timezone",
    Timezone(),
    nullable=True,
    default=_business_timezone,
    label="Timezone",
    description="IANA timezone name; null or blank: the business's timezone.",
)
RECIPIENTS = Field(
    "recipients",
    Addresses(),
    nullable=True,
    default=[],
    label="Recipients",
    description="At most MAX_RECIPIENTS (50) addresses; blank entries and repeats are dropped.",
)
INCLUDE_CREATOR_EMAIL = Field("include_creator_email", Boolean(), default=False, label="Also send to me")
EMAIL_SUBJECT = Field(
    "email_subject",
    Text(255, MSG_SUBJECT_LONG, single_line=True, lines_message=MSG_SUBJECT_LINES),
    nullable=True,
    default="",
    label="E-mail subject",
)
EMAIL_MESSAGE = Field(
    "email_message",
    Text(EMAIL_MESSAGE_MAX_LENGTH, MSG_MESSAGE_LONG),
    nullable=True,
    default="",
    label="Message",
)
FILTERS = Field(
    "filters",
    JsonObject(filter_properties),
    message=MSG_FILTERS_OBJECT,
    nullable=True,
    default={},
    label="Filters",
    description=(
        "By export type. SALES and AUDIT_LOGS need `start_date` and `end_date` (YYYY-MM-DD, inclusive, "
        "start <= end) or `date_range`. CUSTOMERS: `include_credit_history`. INVENTORY: "
        "`exclude_zero_value`. An unknown key is a 400; null or blank values count as left out."
    ),
)
SKIP_IF_EMPTY = Field("skip_if_empty", Boolean(), default=False, label="Skip when there is nothing to send")
# Destinations besides e-mail and password-protected files (issue 19, contract section 6).
DESTINATIONS = Field(
    "destinations",
    DestinationList(),
    default=[],
    label="Also deliver to",
    description=(
        "Destinations besides e-mail, each an object with `kind` and its fields: webhook {url, secret}, "
        "slack {url}, teams {url}, sftp {host, port, username, password or private_key, path, "
        "host_key_fingerprint}, s3 {bucket, prefix, region, endpoint_url, access_key_id, "
        "secret_access_key}. Secrets (secret, password, private_key, secret_access_key and the Slack/Teams "
        "url) are write-only: never returned, kept when an update leaves them out (send the destination's "
        "`id`). Outside development only https and public addresses are accepted, checked when saved."
    ),
)
FILE_PASSWORD = Field(
    "file_password",
    FilePassword(),
    nullable=True,
    default=None,
    label="File password",
    description=(
        "Write-only. Protects the files with this password (AES-256 zip); 8 to 128 characters. "
        'Left out or null keeps the current one, "" removes it. GET shows only `file_password_set`.'
    ),
)
CONDITIONS = Field(
    "conditions",
    ConditionsKind(),
    message=MSG_CONDITIONS,
    nullable=True,
    default={},
    label="Send only when",
    description=(
        "Send only when every condition given holds (contract section 6): `min_records` (the file "
        "holds at least this many records), `min_total` (the period's headline total, SALES: completed "
        "sales, INVENTORY: stock value, is at least this amount), `min_change_percent` (that total moved "
        "by more than this percentage, up or down, against the previous period). Otherwise the run stays "
        "COMPLETED, sends nothing and says why in `skipped_reason`. {} = always send."
    ),
)
IS_ACTIVE = Field("is_active", Boolean(), default=True, label="Active")

# Returned by the API; a client that sends them back gets them silently ignored.
READ_ONLY_SCHEDULE_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "business",
        "created_by",
        "created_by_name",
        "last_run_at",
        "next_run_at",
        "created_at",
        "updated_at",
        "next_run_display",
        "last_run_display",
        "status_display",
        "next_runs",
        "schedule_description",
        "export_type_display",
        "format_display",
        "frequency_display",
        "filters_display",
        "file_password_set",
    }
)

SCHEDULE = FieldSet(
    "schedule",
    (
        NAME,
        EXPORT_TYPE,
        OPTIONAL_FORMAT,
        FORMATS_FIELD,
        FREQUENCY,
        HOUR,
        MINUTE,
        DAY_OF_WEEK,
        DAY_OF_MONTH,
        WEEK_OF_MONTH,
        TIMEZONE,
        RECIPIENTS,
        INCLUDE_CREATOR_EMAIL,
        EMAIL_SUBJECT,
        EMAIL_MESSAGE,
        FILTERS,
        SKIP_IF_EMPTY,
        CONDITIONS,
        IS_ACTIVE,
        DESTINATIONS,
        FILE_PASSWORD,
    ),
    rules=(
        timing_rule({f.name: f for f in (DAY_OF_WEEK, DAY_OF_MONTH, WEEK_OF_MONTH)}),
        FILTERS_RULE,
        Rule("conditions", check_conditions_type),
        FORMATS_RULE,
    ),
    ignored=READ_ONLY_SCHEDULE_FIELDS,
)
TIMING_RULE = SCHEDULE.rules[0]
TIMING = FieldSet("timing", tuple(SCHEDULE[name] for name in TIMING_FIELDS), rules=(TIMING_RULE,))

# --------------------------------------------------------------------------------------------
# Trigger, one-off export, preview

TRIGGER = FieldSet(
    "trigger",
    (
        Field("send_email", Boolean(), default=True, label="Send the e-mail"),
        RECIPIENTS.but(
            name="override_recipients",
            default=None,
            description="Send the export to these addresses instead of the schedule's recipients "
            "(an empty list or null: the schedule's own).",
        ),
    ),
)

ONE_OFF = FieldSet(
    "one_off_export",
    (
        EXPORT_TYPE.but(required_message=MSG_EXPORT_TYPE),
        OPTIONAL_FORMAT,
        FORMATS_FIELD,
        FILTERS,
        RECIPIENTS,
    ),
    rules=(FILTERS_RULE, FORMATS_RULE),
)

PREVIEW = FieldSet(
    "preview",
    (
        *TIMING.fields,
        Field(
            "after",
            Instant(),
            message=MSG_AFTER,
            nullable=True,
            description="ISO 8601, years 1000 to 2999; without an offset, wall-clock time in "
            "`timezone`. Null or blank: now.",
        ),
        Field(
            "count",
            Integer(1, MAX_PREVIEW_COUNT),
            message=MSG_COUNT,
            nullable=True,
            default=DEFAULT_PREVIEW_COUNT,
        ),
    ),
    rules=(TIMING_RULE,),
)

# --------------------------------------------------------------------------------------------
# Notification settings

NOTIFICATIONS = FieldSet(
    "notification_settings",
    (
        Field("notify_on_success", Boolean(), label="Tell me when an export is sent"),
        Field("notify_on_failure", Boolean(), label="Tell me when an export fails"),
        RECIPIENTS.but(name="default_recipients", default=[], label="Send these notices to", description=""),
        Field(
            "from_name",
            Text(255, MSG_FROM_NAME_LONG, single_line=True, lines_message=MSG_FROM_NAME_LINES),
            nullable=True,
            default="",
            label="Sender name",
        ),
        Field(
            "reply_to_email",
            Address(),
            nullable=True,
            default="",
            label="Reply-to address",
            description="An e-mail address, or blank (or null) for none.",
        ),
        Field(
            "allowed_recipient_domains",
            Domains(),
            nullable=True,
            default=[],
            label="Only send to these domains",
            description="Domain names (lower-cased; a leading @ is dropped). When not empty, every "
            "recipient of a schedule, one-off export, trigger override or notice must be at one of them "
            "or a subdomain: checked when saving (409, as it conflicts with the settings) and again when "
            f"sending (not sent, recorded in email_delivery). Empty or null: any domain. At most "
            f"{addresses.MAX_ALLOWED_DOMAINS}.",
        ),
    ),
    # Returned by GET; sent back (a GET-modify-PUT), it is ignored like a schedule's read-only fields.
    ignored=frozenset({"updated_at"}),
)

# --------------------------------------------------------------------------------------------
# List query strings

PAGE = Field(
    "page",
    Count(MAX_PAGE_NUMBER, MSG_PAGE_LARGE),
    message=MSG_PAGE,
    default=1,
    description="From 1; a page past the end is a 404.",
)
PAGE_SIZE = Field(
    "page_size",
    Count(MAX_PAGE_NUMBER, MSG_PAGE_SIZE_LARGE),
    message=MSG_PAGE_SIZE,
    default=DEFAULT_PAGE_SIZE,
    description=f"Default {DEFAULT_PAGE_SIZE}; above {MAX_PAGE_SIZE} is answered as {MAX_PAGE_SIZE}.",
)


def _search(text: str) -> str:
    return text[:255]


SCHEDULE_LIST_QUERY = FieldSet(
    "schedule_list_query",
    (
        Field("is_active", Flag(), message=MSG_BOOLEAN, description="true or false."),
        EXPORT_TYPE.but(required=False, description="One export type."),
        FREQUENCY.but(required=False, description="One frequency."),
        Field(
            "search",
            Opaque(_search, {"type": "string", "not": {"type": "string", "pattern": r"\x00"}}),
            description="Part of the schedule's name.",
        ),
        PAGE,
        PAGE_SIZE,
    ),
)

HISTORY_QUERY = FieldSet(
    "history_query",
    (
        EXPORT_TYPE.but(required=False, description="One export type."),
        FORMAT.but(required=False, description="One format."),
        Field("status", Choice(STATUSES), message=MSG_STATUS, description="One status."),
        Field("trigger", Choice(TRIGGERS), message=MSG_TRIGGER, description="One trigger."),
        Field(
            "schedule_id",
            Opaque(parse_uuid, {"type": "string", "format": "uuid"}),
            message=MSG_SCHEDULE_ID,
            description="Runs of one schedule.",
        ),
        Field(
            "start_date",
            Day(),
            message=MSG_DATE,
            description="Created on or after this date (YYYY-MM-DD, the business's timezone).",
        ),
        Field(
            "end_date",
            Day(),
            message=MSG_DATE,
            description="Created on or before this date (YYYY-MM-DD, the business's timezone); "
            "not before start_date.",
        ),
        PAGE,
        PAGE_SIZE,
        Field(
            "cursor",
            Opaque(decode_cursor, {"type": "string", "maxLength": 200}),
            message=MSG_CURSOR,
            description="An opaque position from a list's `next` or `previous` link (the links carry "
            "one): the page after or before it, as cheap deep as on page 1. Not sent together with `page`.",
        ),
    ),
)
