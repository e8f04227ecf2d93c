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
request that takes it: `Field("name", SomeKind(...), ...)` with its kind, `message` (the words a
wrong value gets, kept exactly), `required`/`required_message`, `nullable` and `default` (what null
or leaving it out means), `export_types`/`frequencies` when it applies to only some (elsewhere it
must be null or left out), and `label`/`description`. The API validates it, the document shows it
and the form gets a field with no other change. A new kind of value is a small class with
`clean`, `schema` and `form` in `services/field_kinds.py`; a rule across fields is a `Rule` in
`services/field_rules.py`, attached to the set, with its JSON Schema when JSON Schema can say it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, replace
from typing import Any, Protocol

from dashboard.core.errors import NON_FIELD, ErrorCollector, ValidationError
from dashboard.services.field_kinds import BLANK

MSG_REQUIRED = "This field is required."
MSG_UNKNOWN_FIELD = "Unknown field."
# A body of thousands of unknown keys is answered with the first few, each name cut short.
_MAX_UNKNOWN_NAMED = 10
_UNKNOWN_NAME_LENGTH = 100


@dataclass(frozen=True)
class Context:
    """What a field's default may depend on."""

    business_timezone: str = "UTC"


class Kind(Protocol):
    """How one kind of value is cleaned and described, and how a page form carries it."""

    form: str  # "text", "choice", "integer", "checkbox", "list" or "none" (see form_value)

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


TRUTHY = frozenset({"y", "yes", "on", "true", "1"})
_FORM_NUMBER = re.compile(r"-?\d{1,6}")
_LIST_SEPARATORS = re.compile(r"[\s,;]+")


def form_value(field: Field, text: str | None) -> Any:
    """What a page form's string means in the JSON the API takes, by the field's kind: a number
    typed ("" is null; anything else stays a string, so the field's own message names it), a
    checkbox (absent is false), a list typed one per line (commas, semicolons, spaces also
    separate), or the text as typed."""
    text = text if isinstance(text, str) else ""
    if field.kind.form == "integer":
        stripped = text.strip()
        if not stripped:  # blank: what null means for the field (on the hour, for a minute)
            return field.default if field.nullable and not callable(field.default) else None
        return int(stripped) if _FORM_NUMBER.fullmatch(stripped) else stripped
    if field.kind.form == "checkbox":
        return text.strip().lower() in TRUTHY
    if field.kind.form == "list":
        return [part for part in _LIST_SEPARATORS.split(text) if part]
    return text


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
            # Not readOnly (that tells clients not to send it; a GET-modify-PUT does): any value.
            schema["properties"][name] = {"description": "Returned by GET; ignored when sent back."}
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
