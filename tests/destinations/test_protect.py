"""Password-protected zips (AES-256) open in a real unzip (7-Zip) with the password and not without."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dashboard.core.protect import write_protected_zip

pytestmark = pytest.mark.nodb
SEVEN_ZIP = shutil.which("7zz") or shutil.which("7z")


@pytest.mark.skipif(
    SEVEN_ZIP is None and not os.environ.get("CI"), reason="7-Zip is not installed (.ci/run installs it)"
)
def test_7zip_opens_it_with_the_password_and_not_without(tmp_path):
    original = tmp_path / "sales_2026-11.xlsx"
    original.write_bytes(os.urandom(50_000) + "Café ünïcode".encode())
    archive = write_protected_zip([(original.name, original)], "s3cret pass", tmp_path / "out.zip")

    listing = subprocess.run([SEVEN_ZIP, "l", "-slt", "-pX", str(archive)], capture_output=True, text=True)
    assert "Method = AES-256" in listing.stdout

    wrong = subprocess.run(
        [SEVEN_ZIP, "x", "-pwrong", f"-o{tmp_path / 'wrong'}", str(archive)], capture_output=True, text=True
    )
    assert wrong.returncode != 0
    assert "Wrong password" in wrong.stdout + wrong.stderr
    none = subprocess.run(
        [SEVEN_ZIP, "x", "-p", f"-o{tmp_path / 'none'}", str(archive)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert none.returncode != 0

    right = subprocess.run(
        [SEVEN_ZIP, "x", "-ps3cret pass", f"-o{tmp_path / 'right'}", str(archive)],
        capture_output=True,
        text=True,
    )
    assert right.returncode == 0, right.stdout + right.stderr
    assert (tmp_path / "right" / original.name).read_bytes() == original.read_bytes()


def test_an_empty_password_is_refused(tmp_path):
    with pytest.raises(ValueError):
        write_protected_zip([], "", tmp_path / "x.zip")
