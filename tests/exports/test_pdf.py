"""The PDF writer: read back with pdftotext (and pdffonts), page by page.

Most tests call `render_pdf` directly with formatted rows (no database); the last ones go through
`generate_export` as every caller does.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.exports.registry import get_dataset
from dashboard.exports.service import generate_export
from dashboard.exports.writers import ExportMeta, pdf_writer
from dashboard.exports.writers.pdf_writer import column_widths, render_pdf, wrap_text
from tests.exports.conftest import ALL_PERIOD, read_pdf

SALES_COLUMNS = get_dataset("SALES").columns({})
HEADER_LINE = re.compile(r"Receipt\s+Date\s+Customer\s+Cashier\s+(Payment\s+)?(method\s+)?Status\s+Items")


def sales_meta(rows: int, total: int | None = None, name: str = "Café Zoë & Co", max_rows: int = 50_000):
    return ExportMeta(
        business_name=name,
        currency="EUR",
        timezone="Europe/Warsaw",
        export_type="SALES",
        title="Sales",
        columns=SALES_COLUMNS,
        filters={},
        filters_text="1 Mar 2024 – 31 Mar 2024 (Previous month)",
        generated_at=datetime(2024, 4, 2, 13, 5, tzinfo=ZoneInfo("Europe/Warsaw")),
        count_noun="sales",
        total_records=rows if total is None else total,
        max_rows=max_rows,
    )


def sale(i: int, customer: str = "Zoë Núñez") -> list[str]:
    return [f"R-{i:05d}", "2024-03-31 23:30", customer, "Renée Ångström", "Card", "Completed", "3"] + [
        "1,100.00",
        "10.00",
        "7.20",
        "97.20",
    ]


def totals(rows: int, label_extra: str = "") -> list[str]:
    return [f"Total: {rows:,} sales{label_extra}", "", "", "", "", "", "", "9.99", "1.00", "0.50", "8.49"]


def render(
    tmp_path: Path, rows: list[list[str]], meta: ExportMeta | None = None, with_totals=True
) -> list[str]:
    """The PDF's pages as text."""
    path = tmp_path / "export.pdf"
    meta = meta or sales_meta(len(rows))
    render_pdf(
        path, meta, iter(rows), totals(len(rows)) if with_totals and rows else None, row_count=len(rows)
    )
    pages = read_pdf(path).split("\f")
    assert pages[-1].strip() == ""  # pdftotext ends every page with a form feed
    return pages[:-1]


def data_rows(page: str) -> list[str]:
    return [line for line in page.splitlines() if re.match(r"\s*R-\d{5}", line)]


@pytest.mark.nodb
def test_every_page_repeats_the_header_row_and_says_page_x_of_y(tmp_path):
    pages = render(tmp_path, [sale(i) for i in range(200)])
    assert len(pages) >= 4
    for number, page in enumerate(pages, 1):
        assert len(HEADER_LINE.findall(page)) == 1, page  # once a page: at its top, never mid-page
        assert re.search(rf"Page {number} of {len(pages)}\b", page), page
        assert "Café Zoë & Co · Sales export · 2 Apr 2024, 13:05 CEST" in page  # the footer
    # Every row once, in order.
    numbers = [line.split()[0] for page in pages for line in data_rows(page)]
    assert numbers == [f"R-{i:05d}" for i in range(200)]
    # The header block is on the first page only.
    assert "Period / filters: 1 Mar 2024 – 31 Mar 2024 (Previous month)" in pages[0]
    assert "Generated: 2 Apr 2024, 13:05 CEST (Europe/Warsaw) · Amounts in euros" in pages[0]
    assert "Records: 200" in pages[0]
    assert not any("Period / filters" in page for page in pages[1:])


@pytest.mark.nodb
def test_blocks_of_rows_continue_on_the_same_page_without_a_second_header(tmp_path, monkeypatch):
    # Rows reach platypus in blocks; a block that starts mid-page must not draw the header row.
    monkeypatch.setattr(pdf_writer, "BLOCK_ROWS", 7)
    pages = render(tmp_path, [sale(i) for i in range(100)])
    for page in pages:
        assert len(HEADER_LINE.findall(page)) == 1, page
    assert sum(len(data_rows(page)) for page in pages) == 100


@pytest.mark.nodb
def test_the_totals_row_ends_the_table_on_the_last_page(tmp_path):
    pages = render(tmp_path, [sale(i) for i in range(120)])
    last = pages[-1]
    assert re.search(r"Total: 120 sales\s+9\.99\s+1\.00\s+0\.50\s+8\.49", last), last
    lines = [line for line in last.splitlines() if line.strip()]
    totals_at = next(i for i, line in enumerate(lines) if "Total: 120 sales" in line)
    assert data_rows("\n".join(lines[:totals_at]))  # after the rows
    assert not data_rows("\n".join(lines[totals_at:]))
    assert not any("Total: 120 sales" in page for page in pages[:-1])


@pytest.mark.nodb
def test_the_totals_row_never_stands_alone_on_a_page(tmp_path):
    first = render(tmp_path, [sale(i) for i in range(200)])
    # Exactly as many rows as the first two pages hold: the totals row would open page 3 alone.
    fill = len(data_rows(first[0])) + len(data_rows(first[1]))
    pages = render(tmp_path, [sale(i) for i in range(fill)])
    assert len(pages) == 3
    assert "Total:" in pages[2] and len(data_rows(pages[2])) >= 1
    assert re.search(r"Page 3 of 3\b", pages[2])


@pytest.mark.nodb
def test_beyond_the_row_limit_the_first_page_says_so(tmp_path):
    meta = sales_meta(60, total=12_345, max_rows=60)
    rows = [sale(i) for i in range(60)]
    path = tmp_path / "truncated.pdf"
    render_pdf(path, meta, rows, totals(60, " (in this PDF)"))
    pages = read_pdf(path).split("\f")
    notice = "This PDF holds the first 60 of 12,345 records; the Excel and CSV exports hold them all."
    assert notice in pages[0]
    assert "Records: 60 of 12,345" in pages[0]
    assert not any(notice in page for page in pages[1:])
    assert "Total: 60 sales (in this PDF)" in "".join(pages)


@pytest.mark.nodb
def test_no_records(tmp_path):
    pages = render(tmp_path, [], sales_meta(0))
    assert len(pages) == 1
    assert "No records match this export (1 Mar 2024 – 31 Mar 2024 (Previous month))." in pages[0]
    assert "Records: 0" in pages[0] and "Page 1 of 1" in pages[0]
    assert not HEADER_LINE.search(pages[0]) and "Total:" not in pages[0]


@pytest.mark.nodb
def test_markup_in_data_is_shown_as_text_never_interpreted(tmp_path):
    evil = ["<b>x</b>", "&amp;", "<script>alert(1)</script>", 'a(b)c\\d "q" <i>', "<font size=40>big</font>"]
    name = "<b>Bold</b> &amp; <i>Co</i>"
    pages = render(tmp_path, [sale(i, customer) for i, customer in enumerate(evil)], sales_meta(5, name=name))
    text = "".join(pages)
    for value in evil:
        assert value in text, value
    assert name in pages[0].splitlines()[0]  # the header block's title
    assert f"{name} · Sales export" in pages[0]  # the footer


@pytest.mark.nodb
def test_non_latin_text_renders_with_the_embedded_dejavu_font(tmp_path):
    names = ["Łukasz Żółć", "Şükrü Öztürk şişli", "Αλέξανδρος Παπαδόπουλος", "Ольга Петрова", "Crème brûlée"]
    name = "Łódź Şişli Ελληνικά"
    pages = render(tmp_path, [sale(i, n) for i, n in enumerate(names)], sales_meta(5, name=name))
    text = "".join(pages)
    for value in [*names, name]:
        assert value in text, value
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "export.pdf")], check=True, capture_output=True, text=True
    ).stdout
    embedded = [line for line in fonts.splitlines() if "DejaVuSans" in line]
    assert {line.split()[0].split("+")[1] for line in embedded} == {"DejaVuSans", "DejaVuSans-Bold"}
    assert all(" yes yes " in line for line in embedded)  # embedded and subset


@pytest.mark.nodb
def test_long_text_wraps_inside_its_column(tmp_path):
    long_name = "A very long customer name that certainly needs wrapping inside its narrow column"
    url = "https://example.com/a/very/long/path/without/any/spaces/at/all/index.html"
    pages = render(tmp_path, [sale(0, long_name), sale(1, url), sale(2, "Tab\there\nnew line")])
    text = pages[0]
    assert "Card" in text and "A very long customer" in text
    # Wrapped words stay whole; the URL is cut after its slashes.
    words = re.findall(r"\S+", text)
    for word in long_name.split():
        assert word in words
    assert re.search(r"https://example\.com/a/very/\S*", text)
    assert "Tab here" in text and "new line" in text


# ---- the pure helpers ---------------------------------------------------------------------------


def widths(text: str) -> float:
    return float(len(text))  # one point a character: easy to reason about


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("short", 10, ["short"]),
        ("two words here", 9, ["two words", "here"]),
        ("abcdefghijkl", 5, ["abcde", "fghij", "kl"]),
        ("http://example.com/x", 12, ["http://", "example.com/", "x"]),
        ("line\nbreak", 20, ["line", "break"]),
        ("tab\tstop", 20, ["tab stop"]),
        ("  leading", 20, ["  leading"]),
        (" a b c d e f", 3, ["a b", "c d", "e f"]),
        ("a\r\nb\rc", 5, ["a", "b", "c"]),
    ],
)
def test_wrap_text(text, width, lines):
    assert wrap_text(text, width, widths) == lines


@pytest.mark.nodb
def test_wrap_text_stops_at_the_line_limit_with_an_ellipsis():
    lines = wrap_text("word " * 100, 9, widths, max_lines=3)
    assert lines == ["word word", "word word", "word wor…"]
    assert all(widths(line) <= 9 for line in lines)


@pytest.mark.nodb
def test_column_widths_share_the_width_and_keep_each_minimum():
    assert column_widths([1, 1], [0, 0], 100) == [50, 50]
    got = column_widths([10, 1, 10], [0, 30, 0], 100)
    assert got[1] == 30 and got[0] == got[2] == 35
    assert sum(column_widths([13, 18, 24, 7, 12], [40, 40, 40, 40, 40], 300)) == pytest.approx(300)


# ---- through generate_export ---------------------------------------------------------------------


def test_generate_export_pdf_header_block_and_table(shop, tmp_path):
    result = generate_export(shop.business, "SALES", "pdf", ALL_PERIOD, out_dir=tmp_path)
    pages = read_pdf(result.path).split("\f")[:-1]
    assert len(pages) == 1
    first = pages[0]
    assert first.splitlines()[0].strip() == "Café Zoë & Co"
    assert "Sales export" in first and "Records: 5" in first
    assert HEADER_LINE.search(first) or ("Receipt" in first and "Payment" in first)
    assert "Total: 5 sales" in first and "Page 1 of 1" in first


def test_generate_export_pdf_beyond_the_limit(shop, tmp_path):
    result = generate_export(shop.business, "SALES", "pdf", ALL_PERIOD, out_dir=tmp_path, pdf_max_rows=3)
    assert (result.record_count, result.total_records, result.truncated) == (3, 5, True)
    first = read_pdf(result.path).split("\f")[0]
    assert "This PDF holds the first 3 of 5 records; the Excel and CSV exports hold them all." in first
    assert "Records: 3 of 5" in first and "Total: 3 sales (in this PDF)" in first


def test_a_stopped_pdf_export_leaves_no_file_behind(shop, tmp_path):
    # The runner stops a run it no longer owns by raising from the progress callback.
    def stop(written: int) -> None:
        raise RuntimeError("lost the claim")

    with pytest.raises(RuntimeError, match="lost the claim"):
        generate_export(shop.business, "SALES", "pdf", ALL_PERIOD, out_dir=tmp_path, progress=stop)
    assert list(tmp_path.iterdir()) == []  # neither the PDF nor the spooled rows
