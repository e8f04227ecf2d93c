"""What went wrong in a run: its category (stored on the run, from the exception's type and the
step that raised it) and the sentences a business manager reads (the traceback is kept apart).

Pages and mails word a failure from its stored category (`explain`), never by searching the
message for words: a database error that mentions a "date" column is a database failure.
"""

from __future__ import annotations

import errno

from sqlalchemy.exc import DBAPIError

from dashboard.core.errors import ValidationError
from dashboard.core.failure_words import failure_words
from dashboard.models.automation import (
    FAILURE_DATA,
    FAILURE_DATABASE,
    FAILURE_MEMORY,
    FAILURE_SETTINGS,
    FAILURE_STORAGE,
    FAILURE_TIMEOUT,
    FAILURE_UNKNOWN,
)
from dashboard.storage import StorageError

__all__ = ["STEP_EXPORT", "STEP_STORE", "categorize", "describe_error", "explain"]

# The step of a run an exception came from, when its type alone does not say (`categorize`).
STEP_EXPORT = "export"  # the exporter reading the data and writing the file
STEP_STORE = "store"  # the file handed to the export storage

# PostgreSQL's query_canceled: statement_timeout (or a cancel request) stopped the query.
_SQLSTATE_QUERY_CANCELED = "57014"


def categorize(exc: BaseException, step: str | None = None) -> str:
    """The failure category of `exc`, raised during `step` (STEP_EXPORT, STEP_STORE or None)."""
    if isinstance(exc, ValidationError):
        return FAILURE_SETTINGS
    if isinstance(exc, StorageError):
        return FAILURE_STORAGE
    if isinstance(exc, MemoryError):
        return FAILURE_MEMORY
    if isinstance(exc, DBAPIError):
        if getattr(exc.orig, "sqlstate", None) == _SQLSTATE_QUERY_CANCELED:
            return FAILURE_TIMEOUT
        return FAILURE_DATABASE
    if isinstance(exc, OSError):
        return FAILURE_STORAGE  # the work folder or the store: the file could not be written
    if step == STEP_EXPORT:
        return FAILURE_DATA
    if step == STEP_STORE:
        return FAILURE_STORAGE
    return FAILURE_UNKNOWN


def explain(category: str | None) -> str:
    """A plain sentence for a failure category (pages and mails put the recorded message beside
    it); an unknown or missing category reads as an unexpected error. The words, with the advice
    that goes with them, are declared once in dashboard/core/failure_words.py."""
    return failure_words(category).what


def describe_error(exc: BaseException) -> str:
    """The run's recorded error message: what failed, in a sentence a manager can read."""
    if isinstance(exc, ValidationError):
        return f"The export's settings are not valid: {exc.summary()}"
    if isinstance(exc, StorageError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The export ran out of memory."
    if isinstance(exc, DBAPIError):
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0:1]
        detail = first_line[0] if first_line else exc.__class__.__name__
        return f"The database failed while the export ran ({detail[:200]})."
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return "The export file could not be written: the disk is full."
        return f"The export file could not be written: {exc.strerror or exc}."
    text = str(exc).strip() or exc.__class__.__name__
    return f"The export failed: {text[:500]}"
