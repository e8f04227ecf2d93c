"""`flask business export` then `delete`: everything of one business out, then gone, files included;
the other business untouched (its counts before and after)."""

from __future__ import annotations

import csv
import json

from sqlalchemy import func, select

from dashboard.automation.runner import ScheduledExportRunner
from dashboard.extensions import db
from dashboard.models import Business, User
from dashboard.models.automation import ExportSchedule
from dashboard.ops.business_data import counts
from dashboard.services.audit import record_audit
from dashboard.storage import get_storage
from tests.ops.conftest import seeded_business


def with_a_run(name: str):
    business, owner = seeded_business(name, sales=30)
    schedule = ExportSchedule(
        business_id=business.id,
        created_by_id=owner.id,
        name="Stock",
        export_type="INVENTORY",
        format="csv",
        frequency="DAILY",
        hour=7,
        timezone="UTC",
        recipients=["stock@example.com"],
        filters={},
    )
    db.session.add(schedule)
    db.session.commit()
    record_audit(
        business.id,
        "schedule.created",
        user_id=owner.id,
        entity="schedule",
        entity_id=schedule.id,
        commit=True,
    )
    history = ScheduledExportRunner().execute_schedule(schedule, "MANUAL")
    assert history.file_path
    return business, owner, history


def test_export_then_delete_one_business_leaves_the_other_untouched(runner, app, tmp_path):
    doomed, doomed_owner, doomed_run = with_a_run("Doomed Deli")
    kept, kept_owner, kept_run = with_a_run("Kept Kiosk")
    doomed_id, doomed_owner_id, doomed_path = doomed.id, doomed_owner.id, doomed_run.file_path
    kept_before = counts(kept.id)
    doomed_before = counts(doomed_id)
    assert (
        kept_before["sales"] == 30
        and kept_before["export_history"] == 1
        and kept_before["mail_messages"] >= 1
    )

    doomed_owner.set_password("a-secret-password")
    db.session.commit()
    out = tmp_path / "doomed"
    result = runner.invoke(args=["business", "export", "Doomed Deli", "--out", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "business.json").read_text())
    assert info["name"] == "Doomed Deli" and info["files"] == 1
    for table, count in doomed_before.items():
        with open(out / f"{table}.csv", encoding="utf-8") as handle:
            assert sum(1 for _ in csv.reader(handle)) - 1 == count, table
    exported_file = next((out / "files").iterdir())
    with get_storage().get_export_file(doomed_run.file_path) as stored:
        assert exported_file.read_bytes() == stored.read()
    members = list(csv.DictReader(open(out / "members.csv", encoding="utf-8")))
    assert members[0]["email"] == doomed_owner.email and members[0]["role"] == "owner"
    everything = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.csv"))
    assert doomed_owner.password_hash not in everything and "password_hash" not in everything
    # A second export into the same folder is refused (nothing is mixed or overwritten).
    assert runner.invoke(args=["business", "export", "Doomed Deli", "--out", str(out)]).exit_code == 2

    refused = runner.invoke(args=["business", "delete", "Doomed Deli"], input="Doomed\n")
    assert refused.exit_code == 2 and "nothing was deleted" in refused.output
    assert counts(doomed_id) == doomed_before

    result = runner.invoke(args=["business", "delete", "Doomed Deli"], input="Doomed Deli\n")
    assert result.exit_code == 0, result.output
    assert "1 user(s)" in result.output and "1 file(s)" in result.output
    db.session.expire_all()
    assert db.session.get(Business, doomed_id) is None
    assert all(count == 0 for count in counts(doomed_id).values()), counts(doomed_id)
    assert db.session.scalar(select(func.count(User.id)).where(User.id == doomed_owner_id)) == 0
    assert not get_storage().exists(doomed_path)
    # The other business: every count as before, its file still there, its owner still there.
    assert counts(kept.id) == kept_before
    assert get_storage().exists(kept_run.file_path)
    assert db.session.get(User, kept_owner.id) is not None


def test_delete_with_yes_and_unknown_names(runner, app):
    business, _, _ = with_a_run("Gone Grocer")
    assert runner.invoke(args=["business", "delete", "Nobody", "--yes"]).exit_code == 2
    assert runner.invoke(args=["business", "export", "Nobody", "--out", "/tmp/x-none"]).exit_code == 2
    result = runner.invoke(args=["business", "delete", "Gone Grocer", "--yes"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Business.id))) == 0
