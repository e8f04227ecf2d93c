"""Storage paths and safe file names: `exports/{business_id}/{year}/{month}/{history_id}_{name}`,
the same for every backend; a path read back from the database is checked again before use."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

from dashboard.storage.errors import UnsafePathError

EXPORTS_PREFIX = "exports"
MAX_FILE_NAME = 120


def sanitize_file_name(name: str, max_length: int = MAX_FILE_NAME) -> str:
    """A safe, ASCII-only file name: letters, digits, ``.``, ``-`` and ``_``; never hidden, never
    ``..``, at most `max_length` characters with the extension kept."""
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode("ascii")
    chars = [c if (c.isalnum() or c in "._-") else "_" for c in text]
    safe = "".join(chars)
    while ".." in safe:
        safe = safe.replace("..", ".")
    while "__" in safe:
        safe = safe.replace("__", "_")
    stem, dot, ext = safe.rpartition(".")
    if dot and ext.isalnum() and len(ext) <= 10 and not stem.strip("._-"):
        safe = "export." + ext  # nothing but an extension survived (e.g. a name in Japanese)
    safe = safe.strip("._- ")
    if not safe:
        safe = "export"
    if len(safe) > max_length:
        stem, dot, ext = safe.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            safe = stem[: max_length - len(ext) - 1].rstrip("._-") + "." + ext
        else:
            safe = safe[:max_length].rstrip("._-")
    return safe or "export"


def _uuid_text(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise UnsafePathError(f"The {what} {value!r} is not a valid id.") from None


def check_storage_path(path: str) -> list[str]:
    """The parts of a well-formed storage path (``exports/...``), or `UnsafePathError`."""
    if not isinstance(path, str) or not path:
        raise UnsafePathError("No file path.")
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise UnsafePathError(f"Refused the file path {path!r}: it holds forbidden characters.")
    if path.startswith("/"):
        raise UnsafePathError(f"Refused the file path {path!r}: it is absolute.")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePathError(f"Refused the file path {path!r}: it would leave the export folder.")
    if parts[0] != EXPORTS_PREFIX or len(parts) < 2:
        raise UnsafePathError(f"Refused the file path {path!r}: it is not under {EXPORTS_PREFIX}/.")
    return parts
