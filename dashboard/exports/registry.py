"""The export types and formats, and where each is implemented.

Adding an export type: a Dataset subclass in datasets/ and a line in DATASETS. Adding a format: an
ExportWriter subclass in writers/ and a line in WRITERS (and the name in models.automation.FORMATS).
"""

from __future__ import annotations

from importlib import import_module

from dashboard.exports.datasets import Dataset
from dashboard.exports.datasets.audit_logs import AuditLogsDataset
from dashboard.exports.datasets.customers import CustomersDataset
from dashboard.exports.datasets.inventory import InventoryDataset
from dashboard.exports.datasets.sales import SalesDataset
from dashboard.exports.writers import ExportWriter
from dashboard.models.automation import EXPORT_TYPES, FORMATS

DATASETS: dict[str, Dataset] = {
    dataset.export_type: dataset
    for dataset in (SalesDataset(), CustomersDataset(), InventoryDataset(), AuditLogsDataset())
}
# Imported when first used: openpyxl and reportlab cost a command that never writes their formats
# (every `flask` command loads the app) a few hundred milliseconds.
WRITERS: dict[str, str] = {
    "excel": "dashboard.exports.writers.excel_writer:ExcelWriter",
    "csv": "dashboard.exports.writers.csv_writer:CsvWriter",
    "pdf": "dashboard.exports.writers.pdf_writer:PdfWriter",
}

assert set(DATASETS) == set(EXPORT_TYPES), "every export type needs a dataset"
assert set(WRITERS) == set(FORMATS), "every format needs a writer"

__all__ = ["EXPORT_TYPES", "FORMATS", "DATASETS", "WRITERS", "get_dataset", "get_writer"]


def get_dataset(export_type: str) -> Dataset:
    """The dataset of an export type ("SALES", ...); KeyError for an unknown one."""
    return DATASETS[export_type]


def get_writer(fmt: str) -> type[ExportWriter]:
    """The writer class of a format ("excel", "csv", "pdf"); KeyError for an unknown one."""
    module, _, name = WRITERS[fmt].partition(":")
    writer: type[ExportWriter] = getattr(import_module(module), name)
    assert writer.format == fmt, f"{WRITERS[fmt]} writes {writer.format}, not {fmt}"
    return writer
