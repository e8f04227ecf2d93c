"""Export files in S3 (or an S3-compatible store): the object key is `{S3_PREFIX}/{path}`; an object
appears only when its upload completes."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import IO, Any, BinaryIO

from dashboard.storage.base import ExportFileStorage
from dashboard.storage.errors import ExportFileNotFound, StorageError, StorageUnavailable
from dashboard.storage.paths import check_storage_path

_CLIENT_LOCK = threading.Lock()


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

    def _head(self, path: str) -> dict | None:
        """The object's metadata; None when it is not there (cleaned up)."""
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise StorageError(
                f"The export file could not be checked: {self._plain_client_error(exc)}."
            ) from exc

    def exists(self, path: str) -> bool:
        return self._head(path) is not None

    def size(self, path: str) -> int:
        head = self._head(path)
        if head is None:
            raise ExportFileNotFound(f"The export file {path} is no longer available.")
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
