"""Password-protected files end to end: a schedule with a password stores, mails and delivers an
AES-256 zip that 7-Zip opens with the password and not without; the mail says it is protected
and never carries the password."""

from __future__ import annotations

import shutil
import subprocess
from email import message_from_bytes, policy

import pytest

from dashboard.automation.runner import ScheduledExportRunner
from dashboard.extensions import db
from dashboard.services import schedules
from dashboard.storage import get_storage
from tests.delivery.conftest import SmtpServer, smtp_config

from .servers import SftpServer

SEVEN_ZIP = shutil.which("7zz") or shutil.which("7z")
PASSWORD = "Tuesday ledger 42"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(app_factory, smtp):
    application = app_factory(DESTINATIONS_ALLOW_PRIVATE=True, **smtp_config(smtp.port))
    with application.app_context():
        yield application


@pytest.mark.skipif(SEVEN_ZIP is None, reason="7-Zip is not installed (.ci/run installs it)")
def test_a_protected_schedule_mails_and_delivers_the_same_encrypted_zip(app, tenant, smtp, tmp_path):
    root = tmp_path / "sftp"
    root.mkdir()
    sftp = SftpServer(root, "acct", password="pw").start()
    try:
        schedule = schedules.create_schedule(
            tenant.business,
            tenant.owner,
            {
                "name": "Protected sales",
                "export_type": "SALES",
                "format": "csv",
                "frequency": "DAILY",
                "hour": 6,
                "recipients": ["accountant@example.com"],
                "filters": {"date_range": "yesterday"},
                "file_password": PASSWORD,
                "destinations": [
                    {
                        "kind": "sftp",
                        "host": "127.0.0.1",
                        "port": sftp.port,
                        "username": "acct",
                        "password": "pw",
                    }
                ],
            },
        )
        history = ScheduledExportRunner().execute_schedule(schedule)
        assert history.status == "EMAILED", history.error_message
        assert history.file_name.endswith(".csv.zip")
        with get_storage().open(history.file_path) as stored:
            zipped = stored.read()
        assert history.file_size == len(zipped)

        (received,) = smtp.handler.to("accountant@example.com")
        mail = message_from_bytes(received.data, policy=policy.default)
        assert PASSWORD not in received.data.decode("utf-8", "replace")
        assert "protected with a password" in mail.get_body(("plain",)).get_content()
        (attachment,) = list(mail.iter_attachments())
        assert attachment.get_content_type() == "application/zip"
        assert attachment.get_filename() == history.file_name
        assert attachment.get_content() == zipped
        assert (root / history.file_name).read_bytes() == zipped  # the SFTP copy: the same bytes

        archive = tmp_path / history.file_name
        archive.write_bytes(zipped)
        wrong = subprocess.run([SEVEN_ZIP, "t", "-pwrong", str(archive)], capture_output=True, text=True)
        assert wrong.returncode != 0
        opened = subprocess.run(
            [SEVEN_ZIP, "x", f"-p{PASSWORD}", f"-o{tmp_path / 'out'}", str(archive)],
            capture_output=True,
            text=True,
        )
        assert opened.returncode == 0, opened.stdout + opened.stderr
        csv_text = (tmp_path / "out" / history.file_name.removesuffix(".zip")).read_text("utf-8-sig")
        assert csv_text.startswith("Receipt,")
    finally:
        sftp.stop()
    db.session.rollback()
