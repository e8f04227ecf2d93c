"""Several formats in one delivery (issue 18 item 1): one mail per recipient carrying every file of
the run, each read back by its own reader (openpyxl, csv) and equal to what history serves."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl

from dashboard.delivery import process_outbox
from dashboard.models.types import utcnow
from dashboard.services import runs as run_service
from dashboard.storage import get_storage
from dashboard.storage.run_files import files_of
from tests.automation.runner_helpers import add_products
from tests.delivery.delivery_helpers import attachments


def test_one_mail_carries_the_excel_and_the_csv(smtp, tenant, runs):
    add_products(tenant.business, 6)
    schedule = runs.schedule(
        tenant.business,
        tenant.owner,
        export_type="INVENTORY",
        format="excel",
        formats=["excel", "csv"],
        filters={},
        recipients=["stock@example.com"],
    )
    history = run_service.trigger_schedule(schedule, tenant.owner)
    process_outbox(utcnow() + timedelta(days=1))
    assert history.status in ("COMPLETED", "EMAILED"), history.error_message

    [received] = smtp.handler.to("stock@example.com")
    parts = {part.get_filename(): part.get_payload(decode=True) for part in attachments(received.message)}
    made = files_of(history)
    assert sorted(parts) == sorted(f.file_name for f in made) and len(made) == 2
    storage = get_storage()
    for run_file in made:  # each attachment is the stored file, byte for byte
        with storage.get_export_file(run_file.file_path) as stored:
            assert parts[run_file.file_name] == stored.read()
    excel = next(f for f in made if f.format == "excel")
    text = next(f for f in made if f.format == "csv")
    sheet = openpyxl.load_workbook(io.BytesIO(parts[excel.file_name]), read_only=True).worksheets[-1]
    excel_rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    csv_rows = list(csv.reader(io.StringIO(parts[text.file_name].decode("utf-8-sig"))))
    assert len(csv_rows) == 1 + 6 and [str(c) for c in excel_rows[0]] == csv_rows[0]
