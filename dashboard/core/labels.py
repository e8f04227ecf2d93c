"""The stored names of export types, formats, frequencies, triggers and statuses, with the words
people read for them and each format's file extension and content type. Declared here once: the
models store these names, the exports registry implements one dataset or writer per name, and the
pages, mails, files and API show these words.
"""

from __future__ import annotations

EXPORT_TYPE_LABELS: dict[str, str] = {
    "SALES": "Sales",
    "CUSTOMERS": "Customers",
    "INVENTORY": "Inventory",
    "AUDIT_LOGS": "Audit logs",
}
FORMAT_LABELS: dict[str, str] = {"excel": "Excel", "csv": "CSV", "pdf": "PDF"}
FILE_EXTENSIONS: dict[str, str] = {"excel": "xlsx", "csv": "csv", "pdf": "pdf"}
CONTENT_TYPES: dict[str, str] = {
    "excel": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
}
FREQUENCY_LABELS: dict[str, str] = {"DAILY": "Daily", "WEEKLY": "Weekly", "MONTHLY": "Monthly"}
TRIGGER_LABELS: dict[str, str] = {"MANUAL": "Manual", "SCHEDULED": "Scheduled", "API": "API"}
STATUS_LABELS: dict[str, str] = {
    "PENDING": "Waiting",
    "PROCESSING": "Running",
    "COMPLETED": "Completed",
    "FAILED": "Failed",
    "EMAILED": "Emailed",
}

EXPORT_TYPES: tuple[str, ...] = tuple(EXPORT_TYPE_LABELS)
FORMATS: tuple[str, ...] = tuple(FORMAT_LABELS)
FREQUENCIES: tuple[str, ...] = tuple(FREQUENCY_LABELS)
TRIGGERS: tuple[str, ...] = tuple(TRIGGER_LABELS)
STATUSES: tuple[str, ...] = tuple(STATUS_LABELS)

OCTET_STREAM = "application/octet-stream"

if not set(FORMATS) == set(FILE_EXTENSIONS) == set(CONTENT_TYPES):  # a format is all three or none
    raise RuntimeError("every format needs a label, a file extension and a content type")


def content_type(fmt: str) -> str:
    """The MIME type of a format's files ("application/octet-stream" for an unknown one)."""
    return CONTENT_TYPES.get(fmt, OCTET_STREAM)


def file_extension(fmt: str) -> str:
    """ "xlsx" for "excel"; "" for an unknown format."""
    return FILE_EXTENSIONS.get(fmt, "")
