"""What can go wrong with an export file, in plain language (pages answer 404, 410 or 503 from these)."""

from __future__ import annotations


class StorageError(Exception):
    """An export file could not be stored, read or deleted. The message is plain language."""


class StorageUnavailable(StorageError):
    """The storage did not answer or refused us (an outage, the network, credentials): the file
    itself may be fine, so a download should be tried again later (503), not reported gone."""


class UnsafePathError(StorageError):
    """A storage path that is malformed or would leave the export root; refused, never used."""


class ExportFileNotFound(StorageError, FileNotFoundError):
    """The file is not (or no longer) in storage, e.g. it was cleaned up."""
