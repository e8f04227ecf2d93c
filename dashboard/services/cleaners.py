"""The small cleaners each declared field kind uses: one value in, the cleaned value out (or None
after adding its message to an `ErrorCollector`). No field names or rules live here: those are
declared once in `dashboard.services.field_sets`; this is how a kind of value is checked.

JSON types are strict: `"8"` is not an hour and `"yes"` is not a boolean.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app, has_app_context

from dashboard.core import addresses
from dashboard.core.errors import ErrorCollector

DEFAULT_MAX_RECIPIENTS = 50
# Past this many bad addresses one more message sums up the rest: a pasted list of 10,000 bad
# lines should not come back as 10,000 messages.
_MAX_ADDRESS_MESSAGES = 10

MSG_BOOLEAN = "Enter true or false."
MSG_TEXT = "Enter text."
MSG_ADDRESS = "Enter an e-mail address, for example accounts@example.com."
MSG_ADDRESS_LIST = 'Enter a list of e-mail addresses, for example ["accounts@example.com"].'
MSG_TIMEZONE_TYPE = "Enter a timezone name such as Europe/London."


def msg_not_a_timezone(name: str) -> str:
    return f"'{name}' is not a timezone name such as Europe/London."


def msg_too_many_recipients(limit: int) -> str:
    return f"At most {limit} recipients."


def msg_bad_address(value: object) -> str:
    # Shortened: a 200 KB "address" must not come back 200 KB long (issue 15).
    return f"'{addresses.shorten(value)}' is not a valid e-mail address."


def max_recipients() -> int:
    """The app's `MAX_RECIPIENTS` (50 outside an app)."""
    if has_app_context():
        return int(current_app.config.get("MAX_RECIPIENTS", DEFAULT_MAX_RECIPIENTS))
    return DEFAULT_MAX_RECIPIENTS


def is_int(value: object) -> bool:
    # bool is an int subclass: True must not pass as hour 1.
    return isinstance(value, int) and not isinstance(value, bool)


def clean_int(
    errors: ErrorCollector,
    field: str,
    value: object,
    allowed: range,
    message: str,
    *,
    extra: tuple[int, ...] = (),
    nullable: bool = False,
) -> int | None:
    if value is None and nullable:
        return None
    # JSON has one number type: 8.0 is the integer 8 (as JSON Schema's "integer" says); 8.5 is not.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    if not is_int(value) or (value not in allowed and value not in extra):
        errors.add(field, message)
        return None
    assert isinstance(value, int)
    return value


def clean_bool(errors: ErrorCollector, field: str, value: object) -> bool | None:
    if not isinstance(value, bool):
        errors.add(field, MSG_BOOLEAN)
        return None
    return value


def clean_text(
    errors: ErrorCollector,
    field: str,
    value: object,
    *,
    max_length: int,
    long_message: str,
    single_line: bool = False,
    lines_message: str = "",
) -> str | None:
    """Text (null means empty), stripped, within `max_length`; CR/LF refused when `single_line`
    (they would break a mail header: Flask-Mail raises BadHeaderError on them)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(field, MSG_TEXT)
        return None
    # Checked before stripping, as the OpenAPI document's maxLength and pattern say them.
    ok = True
    if single_line and ("\r" in value or "\n" in value):
        errors.add(field, lines_message)
        ok = False
    if len(value) > max_length:
        errors.add(field, long_message)
        ok = False
    return value.strip() if ok else None


def normalize_email(value: str) -> str | None:
    """The address in email-validator's normalized form, or None when it is not valid.

    No DNS lookups: deliverability is the mail server's business, and tests run offline.
    """
    # Imported here: its tables cost every command's start-up, and most never check an address.
    from email_validator import EmailNotValidError, validate_email

    try:
        normalized = validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None
    # "=?" opens an RFC 2047 encoded word, which no address may hold (RFC 2047 section 5): the
    # email package decodes one in a header, and "=?utf-8?q?=0D=0A...?=" decodes to a line break.
    return None if "=?" in normalized else normalized


def clean_email(errors: ErrorCollector, field: str, value: object) -> str | None:
    """One optional address: null or "" is "", anything else must be valid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str):
        errors.add(field, MSG_ADDRESS)
        return None
    normalized = normalize_email(value)
    if normalized is None:
        errors.add(field, msg_bad_address(value.strip()))
        return None
    if addresses.needs_smtputf8(normalized):
        errors.add(field, addresses.msg_needs_smtputf8(normalized))
        return None
    return normalized


def clean_recipients(
    errors: ErrorCollector, field: str, value: object, *, limit: int | None = None
) -> list[str] | None:
    """A list of valid addresses, de-duplicated case-insensitively in order (silently), at most
    `limit` (default: `MAX_RECIPIENTS`). Blank entries are dropped. null is an empty list."""
    limit = max_recipients() if limit is None else limit
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors.add(field, MSG_ADDRESS_LIST)
        return None
    # The cap first, before any address is validated (about 0.1 ms each): 40,000 pasted addresses
    # are refused at once with one short message (issue 15).
    count = addresses.count_addresses(value)
    if count > limit:
        errors.add(field, addresses.msg_too_many(limit))
        return None
    result: list[str] = []
    seen: set[str] = set()
    bad = 0
    for item in value:
        if isinstance(item, str) and not item.strip():
            continue
        normalized = normalize_email(item) if isinstance(item, str) else None
        if normalized is None or addresses.needs_smtputf8(normalized):
            bad += 1
            if bad <= _MAX_ADDRESS_MESSAGES:
                if normalized is None:
                    errors.add(field, msg_bad_address(item.strip() if isinstance(item, str) else item))
                else:
                    errors.add(field, addresses.msg_needs_smtputf8(normalized))
            continue
        if normalized.lower() not in seen:
            seen.add(normalized.lower())
            result.append(normalized)
    if bad > _MAX_ADDRESS_MESSAGES:
        errors.add(field, f"... and {bad - _MAX_ADDRESS_MESSAGES} more addresses that are not valid.")
    if len(result) > limit:
        errors.add(field, msg_too_many_recipients(limit))
    return None if bad or len(result) > limit else result


_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


def split_addresses(text: str | None) -> list[str]:
    """Addresses typed into a textarea, separated by commas, semicolons, spaces or new lines."""
    return [part for part in _ADDRESS_SEPARATORS.split(text or "") if part]


@lru_cache(maxsize=1)
def timezone_names() -> frozenset[str]:
    # "localtime" loads but means whatever the machine is set to: not an IANA name.
    return frozenset(available_timezones()) - {"localtime"}


def is_timezone_name(name: object) -> bool:
    """True for an IANA timezone name that this machine's tz database knows."""
    if not isinstance(name, str) or name not in timezone_names():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, OSError):
        return False
    return True


def clean_timezone(errors: ErrorCollector, field: str, value: object, default: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        errors.add(field, MSG_TIMEZONE_TYPE)
        return None
    name = value.strip()
    if not is_timezone_name(name):
        errors.add(field, msg_not_a_timezone(name[:64]))
        return None
    return name


def clean_choice(
    errors: ErrorCollector, field: str, value: object, choices: Iterable[str], message: str, *, upper: bool
) -> str | None:
    # Case-insensitive: "sales" and "Excel" mean what they say; stored in the canonical case.
    if isinstance(value, str):
        candidate = value.strip().upper() if upper else value.strip().lower()
        if candidate in choices:
            return candidate
    errors.add(field, message)
    return None
