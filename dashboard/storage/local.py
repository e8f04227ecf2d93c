"""Export files on local disk under EXPORT_ROOT: written beside the target and renamed into place,
every path resolved (symlinks too) and refused when it would leave the root."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

from dashboard.storage.base import ExportFileStorage
from dashboard.storage.errors import ExportFileNotFound, StorageError, StorageUnavailable, UnsafePathError
from dashboard.storage.paths import check_storage_path

PARTIAL_SUFFIX = ".part"
# Temporary files older than this are leftovers of a killed process (a write takes seconds).
PARTIAL_MAX_AGE = timedelta(hours=6)
_COPY_CHUNK = 1024 * 1024


def _copy_source(src: str | os.PathLike | IO[bytes], dst: IO[bytes]) -> None:
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as handle:
            shutil.copyfileobj(handle, dst, _COPY_CHUNK)
    else:
        shutil.copyfileobj(src, dst, _COPY_CHUNK)


def _plain_os_error(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "the disk is full or the file is too large for the storage"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the export folder is not writable"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "the export folder is not a folder"
    return exc.strerror or str(exc)


class LocalExportFileStorage(ExportFileStorage):
    backend = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _root(self) -> Path:
        return self.root.resolve()

    def _local_path(self, path: str) -> Path:
        parts = check_storage_path(path)
        root = self._root()
        candidate = root.joinpath(*parts[1:])
        # Resolve symlinks too: a link inside the root must not lead outside it.
        resolved = candidate.resolve(strict=False)
        if resolved == root or not resolved.is_relative_to(root):
            raise UnsafePathError(f"Refused the file path {path!r}: it would leave the export folder.")
        return resolved

    def save_export_file(
        self,
        src: str | os.PathLike | IO[bytes],
        file_name: str,
        business_id: Any,
        history_id: Any,
        created_at: datetime | None = None,
        content_type: str | None = None,
    ) -> str:
        path = self._build_storage_path(file_name, business_id, history_id, created_at)
        target = self._local_path(path)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "xb") as out:
                _copy_source(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise StorageError(f"The export file could not be saved: {_plain_os_error(exc)}.") from exc
        return path

    def get_export_file(self, path: str) -> BinaryIO:
        local = self._local_path(path)
        try:
            return open(local, "rb")
        except FileNotFoundError:
            raise ExportFileNotFound(f"The export file {path} is no longer available.") from None
        except OSError as exc:
            raise StorageUnavailable(f"The export file could not be read: {_plain_os_error(exc)}.") from exc

    def delete_export_file(self, path: str) -> bool:
        local = self._local_path(path)
        try:
            local.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"The export file could not be deleted: {_plain_os_error(exc)}.") from exc
        return True

    def exists(self, path: str) -> bool:
        return self._local_path(path).is_file()

    def size(self, path: str) -> int:
        try:
            return self._local_path(path).stat().st_size
        except FileNotFoundError:
            raise ExportFileNotFound(f"The export file {path} is no longer available.") from None

    def local_path(self, path: str) -> Path:
        """The checked absolute path on disk (for `send_file` with the local backend)."""
        return self._local_path(path)

    def _partial_files(self) -> Iterable[Path]:
        root = self._root()
        if not root.is_dir():
            return []
        return root.rglob(f".*{PARTIAL_SUFFIX}")

    def remove_partial_files(self, now: datetime | None = None) -> int:
        limit = time.time() - PARTIAL_MAX_AGE.total_seconds()
        removed = 0
        for leftover in self._partial_files():
            try:
                if leftover.is_file() and not leftover.is_symlink() and leftover.stat().st_mtime < limit:
                    leftover.unlink()
                    removed += 1
            except OSError:
                continue
        return removed
