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

import logging
import os
import shutil
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

from flask import Flask, current_app
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models.automation import ExportHistory
from dashboard.models.types import utcnow

log = logging.getLogger(__name__)

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

EXPORTS_PREFIX = "exports"
MAX_FILE_NAME = 120
PARTIAL_SUFFIX = ".part"
# Temporary files older than this are leftovers of a killed process (a write takes seconds).
PARTIAL_MAX_AGE = timedelta(hours=6)
CLEANUP_BATCH = 500
_COPY_CHUNK = 1024 * 1024
_CLIENT_LOCK = threading.Lock()


class StorageError(Exception):
    """An export file could not be stored, read or deleted. The message is plain language."""


class StorageUnavailable(StorageError):
    """The storage did not answer or refused us (an outage, the network, credentials): the file
    itself may be fine, so a download should be tried again later (503), not reported gone."""


class UnsafePathError(StorageError):
    """A storage path that is malformed or would leave the export root; refused, never used."""


class ExportFileNotFound(StorageError, FileNotFoundError):
    """The file is not (or no longer) in storage, e.g. it was cleaned up."""


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


class ExportFileStorage:
    """The interface (the seed's names); `get_storage()` returns the configured backend."""

    backend = "abstract"

    # -- path ---------------------------------------------------------------------------------
    def _build_storage_path(
        self,
        file_name: str,
        business_id: Any,
        history_id: Any,
        created_at: datetime | None = None,
    ) -> str:
        """``exports/{business_id}/{year}/{month}/{history_id}_{file_name}`` (name sanitized)."""
        created_at = created_at or utcnow()
        if created_at.tzinfo is not None:
            created_at = created_at.astimezone(UTC)
        business = _uuid_text(business_id, "business id")
        history = _uuid_text(history_id, "history id")
        name = sanitize_file_name(file_name)
        return f"{EXPORTS_PREFIX}/{business}/{created_at:%Y}/{created_at:%m}/{history}_{name}"

    # -- the seed's methods ---------------------------------------------------------------------
    def save_export_file(
        self,
        src: str | os.PathLike | IO[bytes],
        file_name: str,
        business_id: Any,
        history_id: Any,
        created_at: datetime | None = None,
        content_type: str | None = None,
    ) -> str:
        """Store a finished file (a path or a binary file object) and return its storage path."""
        raise NotImplementedError

    def get_export_file(self, path: str) -> BinaryIO:
        """An open binary stream of a stored file (close it when done). `ExportFileNotFound` when
        it is gone, `UnsafePathError` for a path that would leave the root."""
        raise NotImplementedError

    def open(self, path: str) -> BinaryIO:
        """Same as `get_export_file`: a stream to send without reading the file into memory."""
        return self.get_export_file(path)

    def delete_export_file(self, path: str) -> bool:
        """Delete a stored file; True when it existed. Refuses unsafe paths."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def size(self, path: str) -> int:
        raise NotImplementedError

    def remove_partial_files(self, now: datetime | None = None) -> int:
        """Delete temporary files left by killed writers; the local backend has some."""
        return 0

    def cleanup_old_exports(self, days_to_keep: int | None = None, now: datetime | None = None) -> dict:
        """Delete the files of runs created more than `days_to_keep` days ago (default
        ``EXPORT_RETENTION_DAYS``) and clear their ``file_path``; the records stay.

        A path that would leave the root is refused (the file is not touched) and the record's
        ``file_path`` cleared all the same, so no download can follow it. A storage error leaves
        the record as it is, to be tried again by the next cleanup.
        """
        if days_to_keep is None:
            days_to_keep = int(current_app.config["EXPORT_RETENTION_DAYS"])
        now = now or utcnow()
        cutoff = now - timedelta(days=days_to_keep)
        summary = {
            "days_to_keep": days_to_keep,
            "cutoff": cutoff.isoformat(),
            "checked": 0,
            "deleted_files": 0,
            "missing_files": 0,
            "cleared_records": 0,
            "refused": 0,
            "errors": 0,
            "partial_files_removed": 0,
        }
        failed: set[uuid.UUID] = set()
        while True:
            query = (
                select(ExportHistory.id, ExportHistory.file_path)
                .where(ExportHistory.created_at < cutoff, ExportHistory.file_path != "")
                .order_by(ExportHistory.created_at)
                .limit(CLEANUP_BATCH)
            )
            if failed:
                query = query.where(ExportHistory.id.not_in(failed))
            rows = db.session.execute(query).all()
            db.session.rollback()  # end the read; deletes below must not hold a transaction open
            if not rows:
                break
            cleared: list[tuple[uuid.UUID, str]] = []
            for history_id, path in rows:
                summary["checked"] += 1
                try:
                    if self.delete_export_file(path):
                        summary["deleted_files"] += 1
                    else:
                        summary["missing_files"] += 1
                except UnsafePathError as exc:
                    summary["refused"] += 1
                    log.warning("cleanup: history %s: %s", history_id, exc)
                except StorageError as exc:
                    summary["errors"] += 1
                    failed.add(history_id)
                    log.error("cleanup: history %s: %s", history_id, exc)
                    continue
                cleared.append((history_id, path))
            for history_id, path in cleared:
                # Conditional: a record whose path changed meanwhile is not ours to clear.
                result = db.session.execute(
                    update(ExportHistory)
                    .where(ExportHistory.id == history_id, ExportHistory.file_path == path)
                    .values(file_path="")
                    .execution_options(synchronize_session=False)
                )
                summary["cleared_records"] += result.rowcount or 0
            db.session.commit()
        summary["partial_files_removed"] = self.remove_partial_files(now)
        log.info(
            "cleanup_old_exports: %(deleted_files)s files deleted, %(cleared_records)s records cleared, "
            "%(refused)s refused, %(errors)s errors (cutoff %(cutoff)s)",
            summary,
        )
        return summary


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


class S3ExportFileStorage(ExportFileStorage):
    backend = "s3"

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, client=None):
        if not bucket:
            raise StorageError("STORAGE_BACKEND is s3 but S3_BUCKET is not set.")
        self.bucket = bucket
        self.prefix = "/".join(p for p in (prefix or "").split("/") if p)
        self.endpoint_url = endpoint_url or None
        self._client = client

    @property
    def client(self):
        if self._client is None:
            # Export threads may ask for the client at the same moment: creating clients from the
            # shared default session is not thread-safe (boto3's docs), so one lock and a session of
            # our own. Bounded timeouts: a hung endpoint fails the run (and it is retried) instead of
            # holding an export thread for minutes.
            with _CLIENT_LOCK:
                if self._client is None:
                    import boto3
                    from botocore.config import Config as BotoConfig

                    self._client = boto3.session.Session().client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        config=BotoConfig(
                            connect_timeout=10,
                            read_timeout=60,
                            retries={"max_attempts": 3, "mode": "standard"},
                        ),
                    )
        return self._client

    def _key(self, path: str) -> str:
        check_storage_path(path)
        return f"{self.prefix}/{path}" if self.prefix else path

    @staticmethod
    def _plain_client_error(exc: Exception) -> str:
        response = getattr(exc, "response", None) or {}
        code = response.get("Error", {}).get("Code", "")
        text = str(exc)
        if code == "NoSuchBucket" or "NoSuchBucket" in text:
            return "the storage bucket does not exist"
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return "access to the storage bucket was refused"
        return text

    def save_export_file(
        self,
        src: str | os.PathLike | IO[bytes],
        file_name: str,
        business_id: Any,
        history_id: Any,
        created_at: datetime | None = None,
        content_type: str | None = None,
    ) -> str:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        path = self._build_storage_path(file_name, business_id, history_id, created_at)
        extra = {"ContentType": content_type} if content_type else None
        try:
            if isinstance(src, (str, os.PathLike)):
                self.client.upload_file(os.fspath(src), self.bucket, self._key(path), ExtraArgs=extra)
            else:
                self.client.upload_fileobj(src, self.bucket, self._key(path), ExtraArgs=extra)
        except (BotoCoreError, ClientError, S3UploadFailedError, OSError) as exc:
            raise StorageError(
                f"The export file could not be saved: {self._plain_client_error(exc)}."
            ) from exc
        return path

    def get_export_file(self, path: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(path))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ExportFileNotFound(f"The export file {path} is no longer available.") from None
            raise StorageUnavailable(
                f"The export file could not be read: {self._plain_client_error(exc)}."
            ) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"The export file could not be read: {exc}.") from exc

    def exists(self, path: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise StorageError(
                f"The export file could not be checked: {self._plain_client_error(exc)}."
            ) from exc
        return True

    def size(self, path: str) -> int:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise ExportFileNotFound(f"The export file {path} is no longer available.") from None
            raise StorageError(
                f"The export file could not be checked: {self._plain_client_error(exc)}."
            ) from exc
        return int(head["ContentLength"])

    def delete_export_file(self, path: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(path)
        existed = self.exists(path)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(
                f"The export file could not be deleted: {self._plain_client_error(exc)}."
            ) from exc
        return existed


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
