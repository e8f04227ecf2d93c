"""Several formats in one run (issue 18 item 1, contract section 6): one file per format, each read
back by its own reader, each downloadable from history (API and pages) and from the e-mail link's
page; statistics count each format."""

from __future__ import annotations

import csv
import io

import openpyxl
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportRunFile
from dashboard.services.statistics import forget_cached_statistics
from dashboard.storage.links import make_download_token
from tests.api.conftest import BASE, make_schedule
from tests.automation.runner_helpers import add_products

HISTORY = f"{BASE}/history/"


def _excel_rows(data: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[-1]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_run_in_excel_and_csv_makes_both_files_each_downloadable(owner_api, client, app, tenant):
    add_products(tenant.business, 7)
    schedule = make_schedule(
        tenant.business,
        tenant.owner,
        export_type="INVENTORY",
        format="excel",
        formats=["excel", "csv"],
        filters={},
    )
    response = owner_api.post(f"{BASE}/schedules/{schedule.id}/trigger/", json={"send_email": False})
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert run["status"] == "COMPLETED", run["error_message"]
    assert run["format"] == "excel" and run["formats"] == ["excel", "csv"]
    files = run["files"]
    assert [f["format"] for f in files] == ["excel", "csv"]
    assert files[0]["file_name"].endswith(".xlsx") and files[1]["file_name"].endswith(".csv")
    # The run's single-file fields are its first file's.
    assert (run["file_name"], run["file_size"]) == (files[0]["file_name"], files[0]["file_size"])

    excel = owner_api.get(files[0]["download_url"])
    text = owner_api.get(files[1]["download_url"])
    assert excel.status_code == 200 and text.status_code == 200
    assert excel.mimetype.endswith("spreadsheetml.sheet") and text.mimetype == "text/csv"
    assert len(excel.data) == files[0]["file_size"] and len(text.data) == files[1]["file_size"]
    assert f"filename={files[1]['file_name']}" in text.headers["Content-Disposition"]
    sheet, rows = _excel_rows(excel.data), _csv_rows(text.data)
    assert len(rows) == 1 + 7  # header and one row a product (CSV has no totals row)
    assert [str(cell) for cell in sheet[0]] == rows[0]  # the same header
    skus = [row[0] for row in rows[1:]]
    assert [row[0] for row in sheet[1 : 1 + 7]] == skus  # the same records, in the same order
    # The first file is also the run's own download; a format the run did not make is a 404.
    assert owner_api.get(run["download_url"]).data == excel.data
    assert owner_api.get(f"{HISTORY}{run['id']}/download/?format=pdf").status_code == 404

    stored = db.session.scalars(select(ExportRunFile).order_by(ExportRunFile.position)).all()
    assert [(f.format, f.position, f.file_size) for f in stored] == [
        ("excel", 0, files[0]["file_size"]),
        ("csv", 1, files[1]["file_size"]),
    ]
    assert {f.file_path for f in stored} and all(stored_file.file_path for stored_file in stored)

    # The e-mail link's page offers both; each file streams from it.
    token = make_download_token(db.session.get(ExportHistory, stored[0].history_id))
    page = client.get(f"/d/{token}").get_data(as_text=True)
    assert f"/d/{token}/file?format=excel" in page and f"/d/{token}/file?format=csv" in page
    assert client.get(f"/d/{token}/file?format=csv").data == text.data
    assert client.get(f"/d/{token}/file?format=pdf").status_code == 404

    # Statistics: one run, counted once in the totals and under each format it made.
    forget_cached_statistics()
    figures = owner_api.get(f"{HISTORY}statistics/").get_json()
    assert figures["total_exports"] == 1 and figures["by_type"]["INVENTORY"]["total"] == 1
    assert figures["by_format"]["excel"]["successful"] == 1 and figures["by_format"]["csv"]["successful"] == 1
    assert figures["by_format"]["pdf"]["total"] == 0


def test_the_history_page_offers_each_file(app, tenant, auth, client):
    from dashboard.services import runs

    add_products(tenant.business, 3)
    schedule = make_schedule(
        tenant.business,
        tenant.owner,
        export_type="INVENTORY",
        format="csv",
        formats=["csv", "pdf"],
        filters={},
    )
    history = runs.trigger_schedule(schedule, tenant.owner, send_email=False)
    assert history.status == "COMPLETED", history.error_message
    auth.login(tenant.owner.email)
    page = client.get(f"/history/{history.id}").get_data(as_text=True)
    assert (
        f"/history/{history.id}/download?format=csv" in page
        and f"/history/{history.id}/download?format=pdf" in page
    )
    pdf = client.get(f"/history/{history.id}/download?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/history/{history.id}/download?format=excel").status_code == 404


def _schedule_body(**fields) -> dict:
    body = {
        "name": "Stock, two ways",
        "export_type": "INVENTORY",
        "frequency": "DAILY",
        "hour": 7,
        "recipients": ["stock@example.com"],
        "filters": {},
    }
    body.update(fields)
    return body


def test_formats_on_schedules_format_is_the_first(owner_api):
    created = owner_api.post(f"{BASE}/schedules/", json=_schedule_body(formats=["csv", "Excel"]))
    assert created.status_code == 201, created.get_json()
    schedule = created.get_json()
    assert schedule["format"] == "csv" and schedule["formats"] == ["csv", "excel"]
    # `format` alone is that one format; `formats` alone moves `format` to its first.
    patched = owner_api.patch(f"{BASE}/schedules/{schedule['id']}/", json={"format": "pdf"}).get_json()
    assert patched["format"] == "pdf" and patched["formats"] == ["pdf"]
    patched = owner_api.patch(
        f"{BASE}/schedules/{schedule['id']}/", json={"formats": ["excel", "pdf"]}
    ).get_json()
    assert patched["format"] == "excel" and patched["formats"] == ["excel", "pdf"]
    single = owner_api.post(f"{BASE}/schedules/", json=_schedule_body(format="pdf")).get_json()
    assert single["formats"] == ["pdf"]


def test_bad_formats_are_400_and_create_nothing(owner_api):
    for body, field in (
        (_schedule_body(), "format"),
        (_schedule_body(formats=[]), "formats"),
        (_schedule_body(formats=["csv", "csv"]), "formats"),
        (_schedule_body(formats=["csv", "docx"]), "formats"),
        (_schedule_body(formats="csv"), "formats"),
        (_schedule_body(format="pdf", formats=["csv", "pdf"]), "format"),
    ):
        response = owner_api.post(f"{BASE}/schedules/", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert field in response.get_json()["errors"], (body, response.get_json())
    assert owner_api.get(f"{BASE}/schedules/").get_json()["count"] == 0


def test_a_one_off_export_in_two_formats(owner_api, tenant):
    add_products(tenant.business, 4)
    response = owner_api.post(
        "/api/reports/exports/", json={"export_type": "INVENTORY", "formats": ["pdf", "csv"], "filters": {}}
    )
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert run["format"] == "pdf" and run["formats"] == ["pdf", "csv"]
    assert [f["format"] for f in run["files"]] == ["pdf", "csv"]
    pdf, text = (owner_api.get(f["download_url"]) for f in run["files"])
    assert pdf.data.startswith(b"%PDF") and len(_csv_rows(text.data)) == 1 + 4
