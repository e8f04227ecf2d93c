"""Password-protected copies of a run's files: one AES-256 zip (WinZip AES, which 7-Zip, macOS's
Archive Utility and Windows 11 open) holding each file under its own name."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def write_protected_zip(sources: Iterable[tuple[str, Path]], password: str, destination: Path) -> Path:
    """Write `destination` holding each (name, path) of `sources`, encrypted with `password`."""
    if not password:
        raise ValueError("A password is needed.")
    import pyzipper  # here, not at the top: every command would pay for its crypto on start-up

    with pyzipper.AESZipFile(
        destination, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password.encode())
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        for name, path in sources:
            archive.write(path, arcname=name)
    return destination


def protected_name(file_name: str) -> str:
    """sales_2026-11.xlsx -> sales_2026-11.xlsx.zip (the name still says what is inside)."""
    return f"{file_name}.zip"
