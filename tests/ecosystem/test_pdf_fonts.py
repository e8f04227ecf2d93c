"""The PDF font ships with the code: an export works where Debian's font folder does not exist."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dashboard.exports.writers import pdf_fonts
from dashboard.exports.writers.pdf_fonts import BUNDLED_FONT_DIR, FONT_FILES, PdfFontError, font_files

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parents[2]


def test_the_bundled_fonts_ship_with_their_licence():
    for name in FONT_FILES:
        assert (BUNDLED_FONT_DIR / name).read_bytes()[:4] == b"\x00\x01\x00\x00", name  # TrueType
    licence = (BUNDLED_FONT_DIR / "LICENSE").read_text()
    assert "Bitstream" in licence and "DejaVu changes are in public domain" in licence


def test_search_order_setting_then_bundled_then_system(tmp_path):
    missing = tmp_path / "missing"
    assert font_files(str(missing), system_dir=missing) == tuple(BUNDLED_FONT_DIR / n for n in FONT_FILES)
    own = tmp_path / "own"
    own.mkdir()
    for name in FONT_FILES:
        (own / name).write_bytes((BUNDLED_FONT_DIR / name).read_bytes())
    assert font_files(str(own), system_dir=missing) == tuple(own / n for n in FONT_FILES)
    # A folder holding only one of the pair is passed over.
    half = tmp_path / "half"
    half.mkdir()
    (half / FONT_FILES[0]).write_bytes(b"x")
    assert font_files(str(half), system_dir=missing)[0].parent == BUNDLED_FONT_DIR


def test_no_font_anywhere_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_fonts, "BUNDLED_FONT_DIR", tmp_path / "removed")
    with pytest.raises(PdfFontError, match=r"DejaVu Sans.*was not found in .*removed, .*nowhere"):
        font_files("", system_dir=tmp_path / "nowhere")


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reportlab.pdfbase import pdfmetrics
    from dashboard.exports.writers import pdf_fonts, pdf_writer
    from tests.exports.test_pdf import sale, sales_meta, totals

    # Debian's folder "does not exist" in this process, and PDF_FONT_DIR names a missing folder.
    pdf_fonts.SYSTEM_FONT_DIR = Path(sys.argv[2])
    font_files = pdf_fonts.font_files
    pdf_fonts.font_files = lambda setting: font_files(setting, system_dir=pdf_fonts.SYSTEM_FONT_DIR)
    rows = [sale(0, "Ольга Петрова"), sale(1, "Αλέξανδρος Παπαδόπουλος")]
    pdf_writer.render_pdf(Path(sys.argv[1]), sales_meta(2, name="Łódź Café"), iter(rows), totals(2), row_count=2)
    print(pdfmetrics.getFont(pdf_fonts.FONT).face.filename)
    """
)


def test_a_pdf_export_works_without_the_debian_font_folder(tmp_path):
    out = tmp_path / "export.pdf"
    env = {"PATH": "/usr/bin:/bin", "PDF_FONT_DIR": str(tmp_path / "not-here"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), str(tmp_path / "no-debian-fonts")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str(BUNDLED_FONT_DIR / "DejaVuSans.ttf")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for value in ("Ольга Петрова", "Αλέξανδρος Παπαδόπουλος", "Łódź Café"):
        assert value in text, value
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert {line.split()[0].split("+")[1] for line in fonts.splitlines() if "DejaVuSans" in line} == {
        "DejaVuSans",
        "DejaVuSans-Bold",
    }
