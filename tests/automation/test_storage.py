"""ExportFileStorage: layout, sanitized names, atomic writes, refusal of unsafe paths, cleanup,
and the same interface on S3 (moto's real server on 127.0.0.1)."""

from __future__ import annotations

import io
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import ExportHistory
from dashboard.storage import (
    ExportFileNotFound,
    LocalExportFileStorage,
    S3ExportFileStorage,
    StorageError,
    UnsafePathError,
    get_storage,
    sanitize_file_name,
)

BUSINESS = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
HISTORY = uuid.UUID("6fa459ea-ee8a-3ca4-894e-db77e160355e")
WHEN = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sales_export_2024-03-15.xlsx", "sales_export_2024-03-15.xlsx"),
        ("../../etc/passwd", "etc_passwd"),
        ("..", "export"),
        ("", "export"),
        ("a/b\\c.csv", "a_b_c.csv"),
        ("Café crème.pdf", "Cafe_creme.pdf"),
        ("line\r\nbreak\x00.csv", "line_break_.csv"),
        (".hidden.csv", "hidden.csv"),
        ("a..b...csv", "a.b.csv"),
        ("日本語.csv", "export.csv"),
    ],
)
def test_sanitize_file_name(name, expected):
    assert sanitize_file_name(name) == expected


@pytest.mark.nodb
def test_sanitize_caps_length_and_keeps_extension():
    name = sanitize_file_name("x" * 500 + ".xlsx")
    assert len(name) <= 120 and name.endswith(".xlsx")


@pytest.mark.nodb
def test_storage_path_layout(tmp_path):
    storage = LocalExportFileStorage(tmp_path)
    path = storage._build_storage_path("sales_export_2024-03-15.xlsx", BUSINESS, HISTORY, WHEN)
    assert path == f"exports/{BUSINESS}/2024/03/{HISTORY}_sales_export_2024-03-15.xlsx"
    with pytest.raises(UnsafePathError):
        storage._build_storage_path("x.csv", "../..", HISTORY, WHEN)


@pytest.mark.nodb
def test_local_save_open_delete(tmp_path):
    storage = LocalExportFileStorage(tmp_path / "exports")
    src = tmp_path / "made.csv"
    src.write_bytes(b"a,b\n1,2\n")
    path = storage.save_export_file(src, "../evil name.csv", BUSINESS, HISTORY, WHEN)
    assert path == f"exports/{BUSINESS}/2024/03/{HISTORY}_evil_name.csv"
    on_disk = tmp_path / "exports" / str(BUSINESS) / "2024" / "03" / f"{HISTORY}_evil_name.csv"
    assert on_disk.read_bytes() == b"a,b\n1,2\n"
    assert not list(on_disk.parent.glob(".*"))  # no temporary file left behind
    with storage.get_export_file(path) as stream:
        assert stream.read() == b"a,b\n1,2\n"
    assert storage.exists(path) and storage.size(path) == 8
    # a file object works as a source too, and overwrites atomically
    storage.save_export_file(io.BytesIO(b"new"), "../evil name.csv", BUSINESS, HISTORY, WHEN)
    assert on_disk.read_bytes() == b"new"
    assert storage.delete_export_file(path) is True
    assert storage.delete_export_file(path) is False
    with pytest.raises(ExportFileNotFound):
        storage.get_export_file(path)
    with pytest.raises(FileNotFoundError):  # what callers catch
        storage.get_export_file(path)


@pytest.mark.nodb
@pytest.mark.parametrize(
    "path",
    [
        "exports/../../etc/passwd",
        "/etc/passwd",
        "exports//x",
        "exports/a/./b",
        "other/a.csv",
        "exports\\..\\x",
        "exports/a\x00b",
        "exports",
        "",
    ],
)
def test_unsafe_paths_are_refused(tmp_path, path):
    storage = LocalExportFileStorage(tmp_path / "exports")
    for call in (storage.get_export_file, storage.delete_export_file, storage.exists):
        with pytest.raises(UnsafePathError):
            call(path)


@pytest.mark.nodb
def test_symlink_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "exports"
    (root / "b").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep me")
    os.symlink(outside, root / "b" / "link")
    storage = LocalExportFileStorage(root)
    with pytest.raises(UnsafePathError):
        storage.delete_export_file("exports/b/link/secret.txt")
    assert (outside / "secret.txt").read_text() == "keep me"


@pytest.mark.nodb
def test_save_into_an_unusable_root_is_a_plain_storage_error(tmp_path):
    not_a_folder = tmp_path / "exports"
    not_a_folder.write_text("a file where the folder should be")
    storage = LocalExportFileStorage(not_a_folder)
    with pytest.raises(StorageError, match="could not be saved"):
        storage.save_export_file(io.BytesIO(b"x"), "a.csv", BUSINESS, HISTORY, WHEN)


def _history(business, *, created_at, file_path="", status="COMPLETED"):
    history = ExportHistory(
        business_id=business.id,
        export_type="INVENTORY",
        format="csv",
        trigger="MANUAL",
        status=status,
        file_name="inventory.csv",
        file_path=file_path,
        created_at=created_at,
    )
    db.session.add(history)
    db.session.flush()
    return history


def test_cleanup_deletes_old_files_clears_path_keeps_record(app, shop, tmp_path):
    storage = get_storage()
    assert isinstance(storage, LocalExportFileStorage)
    now = datetime.now(UTC)
    old = _history(shop.business, created_at=now - timedelta(days=40))
    old.file_path = storage.save_export_file(
        io.BytesIO(b"old"), "old.csv", shop.business.id, old.id, old.created_at
    )
    recent = _history(shop.business, created_at=now - timedelta(days=2))
    recent.file_path = storage.save_export_file(
        io.BytesIO(b"new"), "new.csv", shop.business.id, recent.id, recent.created_at
    )
    gone = _history(shop.business, created_at=now - timedelta(days=50))
    gone.file_path = f"exports/{shop.business.id}/2020/01/{gone.id}_gone.csv"  # already missing
    outside = tmp_path / "outside.txt"
    outside.write_text("never touch me")
    evil = _history(shop.business, created_at=now - timedelta(days=60), file_path="exports/../../outside.txt")
    db.session.commit()
    old_path, recent_path = old.file_path, recent.file_path

    summary = storage.cleanup_old_exports(30, now=now)

    assert summary["deleted_files"] == 1
    assert summary["missing_files"] == 1
    assert summary["refused"] == 1
    assert summary["cleared_records"] == 3
    assert summary["errors"] == 0
    assert outside.read_text() == "never touch me"
    assert not storage.exists(old_path) and storage.exists(recent_path)
    db.session.expire_all()
    assert db.session.get(ExportHistory, old.id).file_path == ""
    assert db.session.get(ExportHistory, evil.id).file_path == ""
    assert db.session.get(ExportHistory, recent.id).file_path == recent_path
    assert db.session.scalar(select(db.func.count(ExportHistory.id))) == 4  # records kept
    # a second pass finds nothing to do
    assert storage.cleanup_old_exports(30, now=now)["checked"] == 0


def test_cleanup_command_prints_one_line(app, runner, shop):
    result = runner.invoke(args=["exports", "cleanup", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("cleanup: 0 deleted files") and result.output.count("\n") == 1


def test_cleanup_removes_old_partial_files(app, shop):
    storage = get_storage()
    folder = storage.root / str(shop.business.id) / "2024" / "03"
    folder.mkdir(parents=True)
    leftover = folder / ".x.csv.abc.part"
    leftover.write_bytes(b"half")
    fresh = folder / ".y.csv.def.part"
    fresh.write_bytes(b"being written")
    old = time.time() - 7 * 3600
    os.utime(leftover, (old, old))
    summary = storage.cleanup_old_exports(30)
    assert summary["partial_files_removed"] == 1
    assert not leftover.exists() and fresh.exists()


# ----------------------------------------------------------------------------------------- S3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {
        k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_server):
    import boto3

    name = f"exports-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name


@pytest.mark.nodb
def test_s3_save_open_delete(s3_server, s3_bucket, tmp_path):
    import boto3

    storage = S3ExportFileStorage(s3_bucket, "tenant-files/", s3_server)
    src = tmp_path / "made.csv"
    src.write_bytes(b"a,b\n1,2\n")
    path = storage.save_export_file(src, "sales export.csv", BUSINESS, HISTORY, WHEN, content_type="text/csv")
    assert path == f"exports/{BUSINESS}/2024/03/{HISTORY}_sales_export.csv"
    head = boto3.client("s3", endpoint_url=s3_server).head_object(
        Bucket=s3_bucket, Key=f"tenant-files/{path}"
    )
    assert head["ContentType"] == "text/csv"
    stream = storage.get_export_file(path)
    assert stream.read() == b"a,b\n1,2\n"
    stream.close()
    assert storage.exists(path) and storage.size(path) == 8
    assert storage.delete_export_file(path) is True
    assert storage.exists(path) is False
    with pytest.raises(ExportFileNotFound):
        storage.get_export_file(path)
    with pytest.raises(UnsafePathError):
        storage.get_export_file("exports/../../x")


@pytest.mark.nodb
def test_s3_missing_bucket_is_a_plain_storage_error(s3_server):
    storage = S3ExportFileStorage("no-such-bucket-here", "", s3_server)
    with pytest.raises(StorageError, match="bucket does not exist"):
        storage.save_export_file(io.BytesIO(b"x"), "a.csv", BUSINESS, HISTORY, WHEN)


def test_get_storage_picks_s3_and_cleans_up_there(app_factory, s3_server, s3_bucket):
    application = app_factory(
        STORAGE_BACKEND="s3", S3_BUCKET=s3_bucket, S3_PREFIX="p", S3_ENDPOINT_URL=s3_server
    )
    with application.app_context():
        storage = get_storage()
        assert isinstance(storage, S3ExportFileStorage)
        from dashboard.models import Business

        business = Business(name="S3 Shop", timezone="UTC")
        db.session.add(business)
        db.session.flush()
        now = datetime.now(UTC)
        old = _history(business, created_at=now - timedelta(days=31))
        old.file_path = storage.save_export_file(
            io.BytesIO(b"old"), "o.csv", business.id, old.id, old.created_at
        )
        db.session.commit()
        path = old.file_path
        summary = storage.cleanup_old_exports(30, now=now)
        assert summary["deleted_files"] == 1 and summary["cleared_records"] == 1
        assert not storage.exists(path)
