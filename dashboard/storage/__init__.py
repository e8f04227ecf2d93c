"""Where export files live: local disk (default) or S3, behind one interface.

Every stored file has a *storage path* (what `ExportHistory.file_path` holds), the same for both
backends (CONTRACT section 4):

    exports/{business_id}/{year}/{month}/{history_id}_{file_name}

* Local: the path is taken relative to ``EXPORT_ROOT`` without its leading ``exports/`` (the root
  already is the exports folder, ``instance/exports`` by default), so the example above is
  ``{EXPORT_ROOT}/{business_id}/{year}/{month}/{history_id}_{file_name}``.
* S3: the object key is ``{S3_PREFIX}/{path}`` in ``S3_BUCKET`` (``S3_ENDPOINT_URL`` for
  S3-compatible stores).

Safety: stored names are sanitized (ASCII, no separators, no ``..``, no control characters, length
capped); every path read from the database is checked again before use and, on disk, resolved
(symlinks included) and refused when it would leave the root (`UnsafePathError`). A local write
goes to a hidden temporary file beside the target and is renamed into place (``os.replace``), so a
reader never sees half a file; an S3 object appears only when its upload completes.
"""

from __future__ import annotations

from flask import Flask, current_app

from dashboard.storage.base import ExportFileStorage
from dashboard.storage.errors import ExportFileNotFound, StorageError, StorageUnavailable, UnsafePathError
from dashboard.storage.local import LocalExportFileStorage
from dashboard.storage.paths import EXPORTS_PREFIX, sanitize_file_name
from dashboard.storage.s3 import S3ExportFileStorage

__all__ = [
    "EXPORTS_PREFIX",
    "ExportFileNotFound",
    "ExportFileStorage",
    "LocalExportFileStorage",
    "S3ExportFileStorage",
    "StorageError",
    "StorageUnavailable",
    "UnsafePathError",
    "get_storage",
    "sanitize_file_name",
]


def get_storage(app: Flask | None = None) -> ExportFileStorage:
    """The configured backend (``STORAGE_BACKEND``: ``local`` or ``s3``), one per app."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache_key = (
        app.config.get("STORAGE_BACKEND", "local"),
        app.config.get("EXPORT_ROOT"),
        app.config.get("S3_BUCKET"),
        app.config.get("S3_PREFIX"),
        app.config.get("S3_ENDPOINT_URL"),
    )
    cached = app.extensions.get("export_storage")
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    backend = (cache_key[0] or "local").strip().lower()
    if backend == "local":
        storage: ExportFileStorage = LocalExportFileStorage(app.config["EXPORT_ROOT"])
    elif backend == "s3":
        storage = S3ExportFileStorage(
            app.config.get("S3_BUCKET", ""),
            app.config.get("S3_PREFIX", ""),
            app.config.get("S3_ENDPOINT_URL"),
        )
    else:
        raise StorageError(f"Unknown STORAGE_BACKEND {backend!r}: use local or s3.")
    app.extensions["export_storage"] = (cache_key, storage)
    return storage
