"""The files a finished run produced, as every channel sees them: what to attach, upload or link."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.core.labels import content_type
from dashboard.models.automation import ExportHistory
from dashboard.storage.run_files import files_of as stored_files_of

__all__ = ["RunFile", "files_of"]


@dataclass(frozen=True)
class RunFile:
    """One file a run produced, as channels see it (the storage path is for reading it)."""

    format: str
    file_name: str
    file_size: int
    path: str
    content_type: str = "application/octet-stream"


def files_of(run: ExportHistory) -> list[RunFile]:
    """The files a run produced that can still be read (none once cleaned up): one per format, in
    the order of its `formats` (`storage.run_files`)."""
    if not run.is_downloadable:
        return []
    return [
        RunFile(
            format=made.format,
            file_name=made.file_name or "export",
            file_size=made.file_size,
            path=made.file_path,
            # A protected file (issue 19) is a zip whatever its format.
            content_type="application/zip" if made.file_name.endswith(".zip") else content_type(made.format),
        )
        for made in stored_files_of(run)
        if made.downloadable(run)
    ]
