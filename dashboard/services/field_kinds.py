"""The kinds of value a declared field can hold (`services.fields.Field.kind`): how each is
cleaned (with the field's declared messages), described in JSON Schema, and carried by a page form
(`form`). A new kind is a small class here with `clean`, `schema` and `form`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from dashboard.core import addresses
from dashboard.core.errors import ErrorCollector
from dashboard.services import cleaners

if TYPE_CHECKING:
    from dashboard.services.fields import Context, Field

# Searched, not anchored: Python's `$` (which generators follow) also matches before a final "\n".
LINE_BREAK_OR_NUL = {"type": "string", "pattern": r"[\r\n\x00]"}
NUL = {
    "type": "string",
    "pattern": r"\x00",
}  # no database here stores it (api.common refuses it in any field)
BLANK = {"type": "string", "pattern": r"^\s*$"}
# An instant's year, as services.validation.INSTANT_YEARS checks it (far years overflow the calendar).
YEARS_1000_TO_2999 = r"^[12][0-9]{3}-"
# What email-validator (and the RFC 2047 check in cleaners) refuse beyond the `email` format:
# special-use domains, and "=?" (which opens an encoded word).
EMAIL_PATTERN = r"^(?!.*=\?)(?!.*\.(?:arpa|invalid|local|localhost|onion|test)\.?$)[^@\s]+@[^@\s]+$"
DOMAIN_PATTERN = (
    r"^@?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)


@dataclass(frozen=True)
class Text:
    form = "text"  # how a page form carries it (see form_value)
    max_length: int
    long_message: str
    single_line: bool = False
    lines_message: str = ""
    blank_message: str = ""  # set: blank is refused with it (null too)

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if self.blank_message and (value is None or (isinstance(value, str) and not value.strip())):
            errors.add(field.name, self.blank_message)
            return None
        return cleaners.clean_text(
            errors,
            field.name,
            value,
            max_length=self.max_length,
            long_message=self.long_message,
            single_line=self.single_line,
            lines_message=self.lines_message,
        )

    def schema(self, field: Field) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        schema["not"] = dict(LINE_BREAK_OR_NUL if self.single_line else NUL)
        if self.blank_message:
            schema["minLength"] = 1
            schema["pattern"] = r"\S"
        return schema


@dataclass(frozen=True)
class Choice:
    """One of `choices`, any case ("sales", "Excel"), stored in the canonical case."""

    form = "choice"

    choices: tuple[str, ...]
    upper: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_choice(errors, field.name, value, self.choices, field.message, upper=self.upper)

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class Integer:
    """An integer from `minimum` to `maximum`, or one of `also` (-1 for "the last")."""

    form = "integer"

    minimum: int
    maximum: int
    also: tuple[int, ...] = ()

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        allowed = range(self.minimum, self.maximum + 1)
        return cleaners.clean_int(errors, field.name, value, allowed, field.message, extra=self.also)

    def schema(self, field: Field) -> dict[str, Any]:
        if not self.also:
            return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        ranges = [{"minimum": self.minimum, "maximum": self.maximum}, *({"const": v} for v in self.also)]
        return {"type": "integer", "anyOf": ranges}

    def values(self) -> list[int]:
        return [*range(self.minimum, self.maximum + 1), *self.also]


@dataclass(frozen=True)
class Boolean:
    form = "checkbox"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_bool(errors, field.name, value)

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class ChoiceList:
    """One or more of `choices`, each once, any case, in the order given (e.g. several formats)."""

    choices: tuple[str, ...]
    upper: bool = True

    form = "list"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if not isinstance(value, list) or not value or len(value) > len(self.choices):
            errors.add(field.name, field.message)
            return None
        cleaned: list[str] = []
        for item in value:
            found = cleaners.clean_choice(
                ErrorCollector(), field.name, item, self.choices, "", upper=self.upper
            )
            if found is None or found in cleaned:
                errors.add(field.name, field.message)
                return None
            cleaned.append(found)
        return cleaned

    def schema(self, field: Field) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {"type": "string", "enum": list(self.choices)},
            "minItems": 1,
            "maxItems": len(self.choices),
            "uniqueItems": True,
        }


@dataclass(frozen=True)
class Addresses:
    """A list of e-mail addresses (blank entries ignored, duplicates dropped), at most MAX_RECIPIENTS."""

    form = "list"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_recipients(errors, field.name, value)

    def schema(self, field: Field) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": cleaners.DEFAULT_MAX_RECIPIENTS,
            "items": {
                "type": "string",
                "maxLength": 254,
                "anyOf": [{"format": "email", "pattern": EMAIL_PATTERN}, BLANK],
            },
        }


@dataclass(frozen=True)
class Address:
    """One e-mail address, or blank for none."""

    form = "text"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_email(errors, field.name, value)

    def schema(self, field: Field) -> dict[str, Any]:
        return {
            "type": "string",
            "maxLength": 254,
            "anyOf": [{"format": "email", "pattern": EMAIL_PATTERN}, BLANK],
        }


@dataclass(frozen=True)
class Domains:
    """Domain names (lower-cased, a leading @ dropped)."""

    form = "list"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        domains, problems = addresses.clean_domains(value)
        for problem in problems:
            errors.add(field.name, problem)
        return domains

    def schema(self, field: Field) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "string",
                "maxLength": 253,
                "pattern": DOMAIN_PATTERN,
                "examples": ["example.com"],
            },
        }


@dataclass(frozen=True)
class Timezone:
    """An IANA timezone name; blank means the field's default (the business's timezone)."""

    form = "text"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_timezone(errors, field.name, value, field.default_value(context))

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "anyOf": [{"enum": sorted(cleaners.timezone_names())}, BLANK]}


@dataclass(frozen=True)
class JsonObject:
    """A JSON object whose keys are checked by a rule of the set (filters by export type)."""

    form = "none"  # built by the form from its own inputs (filters.<key>)

    properties: Callable[[], dict[str, Any]]

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if not isinstance(value, Mapping):
            errors.add(field.name, field.message)
            return None
        return dict(value)

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "object", "properties": self.properties(), "additionalProperties": False}


@dataclass(frozen=True)
class Instant:
    """An ISO 8601 date and time; parsed by the request's own validator (it needs the timezone)."""

    form = "text"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if not isinstance(value, str):
            errors.add(field.name, field.message)
            return None
        return value

    def schema(self, field: Field) -> dict[str, Any]:
        dated = {"format": "date-time", "maxLength": 40, "pattern": YEARS_1000_TO_2999}
        return {"type": "string", "anyOf": [dated, BLANK]}


@dataclass(frozen=True)
class Opaque:
    """A value checked by its own parser (a cursor, an id): `parse` raises ValueError when it is bad."""

    form = "text"

    parse: Callable[[str], Any]
    json: dict[str, Any]

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        try:
            return self.parse(value if isinstance(value, str) else str(value))
        except ValueError:
            errors.add(field.name, field.message)
            return None

    def schema(self, field: Field) -> dict[str, Any]:
        return dict(self.json)


@dataclass(frozen=True)
class Count:
    """A whole number from a query string ("20") or JSON, from 1 to `maximum`."""

    form = "text"

    maximum: int
    large_message: str

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if cleaners.is_int(value):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\d{1,30}", value):
            number = int(value)
        else:
            errors.add(field.name, field.message)
            return None
        assert isinstance(number, int)
        if number < 1:
            errors.add(field.name, field.message)
            return None
        if number > self.maximum:
            errors.add(field.name, self.large_message)
            return None
        return number

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "maximum": self.maximum}


@dataclass(frozen=True)
class Flag:
    """true or false in a query string (also 1/0, yes/no)."""

    form = "text"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "1", "yes"}:
            return True
        if isinstance(value, str) and value.lower() in {"false", "0", "no"}:
            return False
        errors.add(field.name, field.message)
        return None

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Day:
    """A calendar date, YYYY-MM-DD."""

    form = "text"

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        errors.add(field.name, field.message)
        return None

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


def parse_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
