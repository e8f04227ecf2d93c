"""Password-protected files (issue 19 item 7): a schedule may protect its files with a password its
owner sets. The password is stored encrypted (DESTINATIONS_SECRET_KEYS), shown only as "set", never
mailed; each file the run produces is stored as an AES-256 zip of itself, so the history's
download, the mail's attachment and every destination carry the same protected file."""

from __future__ import annotations

from typing import Any

from dashboard.core.errors import ValidationError
from dashboard.destinations.config import secret_box
from dashboard.destinations.errors import SecretUnreadable

MIN_LENGTH = 8
MAX_LENGTH = 128


def password_error(value: Any) -> str | None:
    """Why `value` cannot be a file password (None, "" and 8 to 128 characters can)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "Enter the password as text, or an empty string to remove it."
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        return f"Use {MIN_LENGTH} to {MAX_LENGTH} characters (a passphrase is easiest to share)."
    return None


def clean_file_password(value: Any, stored: str = "") -> str:
    """What a client sent as `file_password` -> what to store: None keeps the stored one, "" removes
    it, text of 8 to 128 characters replaces it (encrypted)."""
    message = password_error(value)
    if message:
        raise ValidationError({"file_password": [message]})
    if value is None:
        return stored or ""
    if value == "":
        return ""
    return secret_box().encrypt(value)


def file_password_of(schedule) -> str | None:
    token = getattr(schedule, "file_password", "") if schedule is not None else ""
    if not token:
        return None
    return secret_box().decrypt(token)


__all__ = [
    "SecretUnreadable",
    "clean_file_password",
    "file_password_of",
    "password_error",
]
