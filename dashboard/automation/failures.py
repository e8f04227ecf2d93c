"""What went wrong in a run, said for a business manager (the traceback is kept separately)."""

from __future__ import annotations

import errno

from sqlalchemy.exc import DBAPIError

from dashboard.automation.storage import StorageError
from dashboard.services.errors import ValidationError

__all__ = ["describe_error"]


def describe_error(exc: BaseException) -> str:
    """A sentence a business manager can read."""
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
