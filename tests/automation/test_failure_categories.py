"""A FAILED run's `failure_category`, set where the failure happened (from the exception's type and
the run's step), stored on the run and shown by the API; never guessed from the message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from dashboard.automation.failures import STEP_EXPORT, STEP_STORE, categorize, explain
from dashboard.automation.runner import ScheduledExportRunner
from dashboard.core.errors import ValidationError
from dashboard.extensions import db
from dashboard.models.automation import FAILURE_CATEGORIES, ExportHistory
from dashboard.models.types import utcnow
from dashboard.services import runs
from dashboard.services.presenters import history_to_dict
from dashboard.storage import StorageUnavailable
from tests.automation.runner_helpers import histories, make_schedule, utc


def test_a_storage_failure_is_a_storage_failure(app, shop, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should be")
    app.config["EXPORT_ROOT"] = str(blocker)
    make_schedule(shop.business, next_run_at=utc(2027, 3, 1, 8, 0))
    ScheduledExportRunner().run_due_schedules(utc(2027, 3, 1, 8, 0, 5))
    [run] = histories()
    assert run.status == "FAILED" and run.failure_category == "storage"
    assert history_to_dict(run)["failure_category"] == "storage"


def test_a_database_failure_is_a_database_failure(app, shop):
    """The table the export reads is gone mid-life: the database's own error, category database."""
    schedule = make_schedule(shop.business, export_type="INVENTORY", next_run_at=None)
    db.session.execute(text("ALTER TABLE products RENAME TO products_moved"))
    db.session.commit()
    try:
        history = runs.trigger_schedule(schedule, shop.owner)
        status, category, message = history.status, history.failure_category, history.error_message
    finally:
        db.session.rollback()
        db.session.execute(text("ALTER TABLE products_moved RENAME TO products"))
        db.session.commit()
        # No pooled connection keeps a plan or a lock from the renamed table (PostgreSQL).
        db.session.remove()
        db.engine.dispose()
    assert status == "FAILED", message
    assert category == "database"
    assert message.startswith("The database failed while the export ran")


def test_invalid_filters_are_a_settings_failure_and_a_fine_run_has_none(shop):
    schedule = make_schedule(
        shop.business, export_type="SALES", filters={"start_date": "2024-02-30", "end_date": "2024-03-01"}
    )
    failed = runs.trigger_schedule(schedule, shop.owner)
    assert failed.status == "FAILED" and failed.failure_category == "settings"
    fine = runs.trigger_schedule(make_schedule(shop.business, next_run_at=None), shop.owner)
    assert fine.status in ("COMPLETED", "EMAILED") and fine.failure_category is None


def test_a_stale_run_is_interrupted(app, shop):
    now = utcnow()
    stale = ExportHistory(
        business_id=shop.business.id,
        export_type="INVENTORY",
        format="csv",
        trigger="SCHEDULED",
        status="PROCESSING",
        started_at=now - timedelta(hours=2),
        heartbeat_at=now - timedelta(hours=2),
        claim_token="t-1",
    )
    db.session.add(stale)
    db.session.commit()
    ScheduledExportRunner().recover_stale_runs(now)
    db.session.expire_all()
    assert stale.status == "FAILED" and stale.failure_category == "interrupted"


def _dbapi_error(message: str, sqlstate: str | None = None) -> DBAPIError:
    orig = Exception(message)
    orig.sqlstate = sqlstate
    return OperationalError("SELECT ...", {}, orig)


@pytest.mark.nodb
@pytest.mark.parametrize(
    "exc, step, category",
    [
        # The seed's text guess called this a settings problem (it mentions a date).
        (_dbapi_error('invalid input syntax for type date: "2024-13-01"'), STEP_EXPORT, "database"),
        (_dbapi_error("canceling statement due to statement timeout", "57014"), STEP_EXPORT, "timeout"),
        (ValidationError({"filters": ["Enter a valid date."]}), STEP_EXPORT, "settings"),
        (StorageUnavailable("The file store did not answer."), STEP_STORE, "storage"),
        (OSError(28, "No space left on device"), STEP_EXPORT, "storage"),
        (MemoryError(), STEP_EXPORT, "memory"),
        (RuntimeError("The PDF could not be built (1 error(s) from xhtml2pdf)."), STEP_EXPORT, "data"),
        (RuntimeError("the storage timed out"), STEP_STORE, "storage"),
        (RuntimeError("database date settings timeout"), None, "unknown"),
    ],
)
def test_the_category_comes_from_the_type_and_the_step_not_the_words(exc, step, category):
    assert categorize(exc, step) == category


@pytest.mark.nodb
def test_every_category_has_its_own_plain_sentence():
    sentences = [explain(category) for category in FAILURE_CATEGORIES]
    assert len(set(sentences)) == len(FAILURE_CATEGORIES) and all(s.endswith(".") for s in sentences)
    assert explain(None) == explain("unknown") == explain("no-such-category")
