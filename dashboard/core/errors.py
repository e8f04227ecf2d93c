"""The errors every layer raises and every face (pages, API, CLI) renders in its own way.

`ValidationError` is the one validation error type: its `errors` maps a field name to its messages, as the API's 400 body shows them:
`{"errors": {"hour": ["Enter an hour from 0 to 23."]}}`. Cross-field problems go under
`"non_field_errors"`; nested filter fields use dotted names such as `"filters.start_date"`.
"""

from __future__ import annotations

NON_FIELD = "non_field_errors"


class ValidationError(Exception):
    status = 400  # what the API answers

    def __init__(self, errors: dict[str, list[str]] | str):
        if isinstance(errors, str):
            errors = {NON_FIELD: [errors]}
        self.errors: dict[str, list[str]] = errors
        super().__init__(self.summary())

    def summary(self) -> str:
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in self.errors.items())


class StateConflict(ValidationError):
    """Input that is well formed on its own but conflicts with what is stored (the schedule's other
    fields, the business's allowed recipient domains): the API answers 409 with the same
    `{"errors": ...}` body, and the pages show the messages as for any other error."""

    status = 409


class ErrorCollector:
    """Collects field errors while validating, then raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def merge(self, errors: dict[str, list[str]]) -> None:
        for field, messages in errors.items():
            for message in messages:
                self.add(field, message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


class NotPossible(Exception):
    """The action is not possible in the object's current state (the API answers 409)."""


class PageNotFound(Exception):
    """A page past the end of a paginated list (the API answers 404); `total`: how many the list
    holds (the dashboard shows its last page instead)."""

    def __init__(self, message: str, total: int = 0) -> None:
        super().__init__(message)
        self.total = total


class NotFound(Exception):
    """No such object in this business: missing, another business's, or a malformed id. Pages and
    the API answer 404 alike, so a foreign id cannot be told from a missing one."""
