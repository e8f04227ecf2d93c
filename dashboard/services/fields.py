"""Each input field's rules, declared once: the mechanism.

A `Field` says everything about one input: its kind of value (text, a choice, an integer range,
addresses...), whether null is accepted (and what it then means: its `default`), whether it is
required and with which words, the message a wrong value gets, the export types and frequencies
it applies to, and the label and description people read. A `FieldSet` is the fields of one
request (a schedule, a one-off export, a query string...) with the rules across them. From that one
declaration come the API's validation (`FieldSet.clean`, used by `services.validation`), the page
forms (`web/forms.py` builds a FlaskForm field per declared field) and the OpenAPI components
(`FieldSet.json_schema`: type, nullable, enum, minimum/maximum, lengths, and the rules across
fields as JSON Schema `if`/`then`). Tests hold the three to each other.

How to add a field: declare it once in `dashboard/services/field_sets.py`, in the `FieldSet` of the
request that takes it: `Field("formats", Addresses(...)...)` with its kind, `message` (the words a
wrong value gets, kept exactly), `required`/`required_message`, `nullable` and `default` (what null
or leaving it out means), `export_types`/`frequencies` when it applies to only some (elsewhere it
must be null or left out), and `label`/`description`. The API validates it, the document shows it
and the form gets a field with no other change. A new kind of value is a small class here with
`clean` and `schema`; a rule across fields is a `Rule` in the set, with its JSON Schema when JSON
Schema can say it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from dashboard.core import addresses
from dashboard.core.errors import NON_FIELD, ErrorCollector, ValidationError
from dashboard.services import cleaners

MSG_REQUIRED = "This field is required."
MSG_UNKNOWN_FIELD = "Unknown field."
# A body of thousands of unknown keys is answered with the first few, each name cut short.
_MAX_UNKNOWN_NAMED = 10
_UNKNOWN_NAME_LENGTH = 100
SINGLE_LINE = r"^[^\r\n]*$"
NOT_BLANK_SINGLE_LINE = r"^[^\r\n]*\S[^\r\n]*$"
BLANK = {"type": "string", "pattern": r"^\s*$"}


@dataclass(frozen=True)
class Context:
    """What a field's default may depend on."""

    business_timezone: str = "UTC"


class Kind(Protocol):
    """How one kind of value is cleaned and described."""

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any: ...

    def schema(self, field: Field) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    message: str = ""
    required: bool = False
    required_message: str = MSG_REQUIRED
    nullable: bool = False
    # What null (when nullable) or leaving the field out means; a callable takes the Context.
    default: Any = None
    export_types: tuple[str, ...] = ()  # () = every export type
    frequencies: tuple[str, ...] = ()  # () = every frequency
    label: str = ""
    description: str = ""

    def default_value(self, context: Context) -> Any:
        value = self.default(context) if callable(self.default) else self.default
        return deepcopy(value)

    def clean(self, errors: ErrorCollector, value: object, context: Context) -> Any:
        if value is None and self.nullable:
            return self.default_value(context)
        return self.kind.clean(self, errors, value, context)

    def schema(self) -> dict[str, Any]:
        schema = self.kind.schema(self)
        if self.nullable:
            schema = nullable(schema)
        if self.default is not None and not callable(self.default):
            schema["default"] = deepcopy(self.default)
        if self.description:
            schema["description"] = self.description
        return schema

    def but(self, **changes: Any) -> Field:
        """The same field with a few attributes changed (e.g. another required message)."""
        return replace(self, **changes)


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` that also accepts null."""
    schema = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    if "anyOf" in schema:
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
    return schema


# --------------------------------------------------------------------------------------------
# Kinds


@dataclass(frozen=True)
class Text:
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
        if self.blank_message:
            schema["minLength"] = 1
            schema["pattern"] = NOT_BLANK_SINGLE_LINE if self.single_line else r"\S"
        elif self.single_line:
            schema["pattern"] = SINGLE_LINE
        return schema


@dataclass(frozen=True)
class Choice:
    """One of `choices`, any case ("sales", "Excel"), stored in the canonical case."""

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
    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_bool(errors, field.name, value)

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Addresses:
    """A list of e-mail addresses (blank entries ignored, duplicates dropped), at most MAX_RECIPIENTS."""

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_recipients(errors, field.name, value)

    def schema(self, field: Field) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": cleaners.DEFAULT_MAX_RECIPIENTS,
            "items": {"type": "string", "maxLength": 254, "anyOf": [{"format": "email"}, BLANK]},
        }


@dataclass(frozen=True)
class Address:
    """One e-mail address, or blank for none."""

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_email(errors, field.name, value)

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "maxLength": 254, "anyOf": [{"format": "email"}, BLANK]}


@dataclass(frozen=True)
class Domains:
    """Domain names (lower-cased, a leading @ dropped)."""

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        domains, problems = addresses.clean_domains(value)
        for problem in problems:
            errors.add(field.name, problem)
        return domains

    def schema(self, field: Field) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": 50,
            "items": {"type": "string", "maxLength": 253, "examples": ["example.com"]},
        }


@dataclass(frozen=True)
class Timezone:
    """An IANA timezone name; blank means the field's default (the business's timezone)."""

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        return cleaners.clean_timezone(errors, field.name, value, field.default_value(context))

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "anyOf": [{"enum": sorted(cleaners.timezone_names())}, BLANK]}


@dataclass(frozen=True)
class JsonObject:
    """A JSON object whose keys are checked by a rule of the set (filters by export type)."""

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

    def clean(self, field: Field, errors: ErrorCollector, value: object, context: Context) -> Any:
        if not isinstance(value, str):
            errors.add(field.name, field.message)
            return None
        return value

    def schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "format": "date-time", "maxLength": 40}


@dataclass(frozen=True)
class Opaque:
    """A value checked by its own parser (a cursor, an id): `parse` raises ValueError when it is bad."""

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


# --------------------------------------------------------------------------------------------
# Sets of fields, and rules across them


@dataclass(frozen=True)
class Rule:
    """A rule across fields. `check(errors, values)` adds its messages; `schema(partial)` is the same
    rule as JSON Schema `allOf` entries (for a PUT/PATCH, `partial`: only what the sent fields decide
    alone); None when JSON Schema cannot say it."""

    name: str
    check: Callable[[ErrorCollector, Mapping[str, Any]], None]
    schema: Callable[[bool], list[dict[str, Any]]] | None = None


@dataclass(frozen=True)
class FieldSet:
    """The fields one request takes, with the fields it ignores (echoed read-only ones)."""

    name: str
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    ignored: frozenset[str] = frozenset()

    def __getitem__(self, name: str) -> Field:
        for declared in self.fields:
            if declared.name == name:
                return declared
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    def defaults(self, context: Context) -> dict[str, Any]:
        return {f.name: f.default_value(context) for f in self.fields if not f.required}

    def clean(
        self,
        data: object,
        context: Context,
        *,
        current: Mapping[str, Any] | None = None,
        partial: bool = False,
        what: str = "request",
    ) -> tuple[dict[str, Any], set[str], ErrorCollector]:
        """Each field's own rules: (values merged onto `current` or the defaults, the fields sent,
        the errors so far). Required fields left out are errors unless `partial` (a PATCH)."""
        data = require_object(data, what)
        errors = ErrorCollector()
        check_unknown_fields(errors, data, self.names, self.ignored)
        values = dict(current) if current is not None else self.defaults(context)
        supplied: set[str] = set()
        for declared in self.fields:
            if declared.name in data:
                supplied.add(declared.name)
                values[declared.name] = declared.clean(errors, data[declared.name], context)
            elif declared.required and not partial:
                errors.add(declared.name, declared.required_message)
                values[declared.name] = None
        return values, supplied, errors

    def clean_query(self, args: Mapping[str, Any], context: Context) -> tuple[dict[str, Any], ErrorCollector]:
        """Query-string values (strings; ints and dates from the CLI): blank or absent is the default."""
        errors = ErrorCollector()
        values: dict[str, Any] = {}
        for declared in self.fields:
            raw = args.get(declared.name)
            if isinstance(raw, str):
                raw = raw.strip() or None
            if raw is None:
                values[declared.name] = declared.default_value(context)
            else:
                values[declared.name] = declared.kind.clean(declared, errors, raw, context)
        return values, errors

    def parameters(self) -> list[dict[str, Any]]:
        """The set as OpenAPI query parameters."""
        # A blank value counts as left out (an HTML form sends its empty fields).
        return [
            {
                "name": f.name,
                "in": "query",
                "schema": {"anyOf": [f.kind.schema(f), BLANK]},
                "description": f.description,
            }
            for f in self.fields
        ]

    def json_schema(self, *, partial: bool = False, rules: bool = True, **extra: Any) -> dict[str, Any]:
        """The set as a JSON Schema object: every field, the required ones (unless `partial`), the
        rules JSON Schema can say, and no other property."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: f.schema() for f in self.fields},
            "additionalProperties": False,
        }
        for name in sorted(self.ignored):
            schema["properties"][name] = {
                "readOnly": True,
                "description": "Returned by GET; ignored when sent back.",
            }
        if self.required and not partial:
            schema["required"] = list(self.required)
        if rules:
            entries = [entry for rule in self.rules if rule.schema for entry in rule.schema(partial)]
            if entries:
                schema["allOf"] = entries
        schema.update(extra)
        return schema


def require_object(data: object, what: str) -> Mapping:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError({NON_FIELD: [f"Send the {what} as a JSON object."]})
    return data


def check_unknown_fields(
    errors: ErrorCollector, data: Mapping, known: Iterable[str], ignored: Iterable[str] = ()
) -> None:
    """Each top-level field that is neither `known` nor `ignored` is an error of its own
    ("Unknown field."): a typo such as `recipents` must never be dropped silently (contract
    section 6). At most a few are named, each cut short, beside a count of the rest."""
    allowed = set(known) | set(ignored)
    unknown = [key for key in data if key not in allowed]
    for key in unknown[:_MAX_UNKNOWN_NAMED]:
        errors.add(str(key)[:_UNKNOWN_NAME_LENGTH], MSG_UNKNOWN_FIELD)
    if len(unknown) > _MAX_UNKNOWN_NAMED:
        errors.add(NON_FIELD, f"{len(unknown) - _MAX_UNKNOWN_NAMED:,} more unknown fields.")
