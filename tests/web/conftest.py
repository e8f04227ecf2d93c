"""Fixtures for the page tests: signed-in clients, and schedules and runs to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.extensions import db
from dashboard.models import ExportHistory
from dashboard.services import schedules as schedule_service
from tests.web.web_helpers import schedule_data


@pytest.fixture
def make_schedule(app):
    def make(business, user, **overrides):
        return schedule_service.create_schedule(business, user, schedule_data(**overrides))

    return make


@pytest.fixture
def make_run(app):
    """A run written straight to the database (what the runner would have left behind)."""

    def make(business, **fields):
        now = datetime.now(UTC)
        values = {
            "business_id": business.id,
            "export_type": "SALES",
            "format": "csv",
            "trigger": "MANUAL",
            "status": "COMPLETED",
            "created_at": now - timedelta(minutes=5),
            "started_at": now - timedelta(minutes=5),
            "completed_at": now - timedelta(minutes=4, seconds=15),
            "record_count": 120,
            "file_name": "sales_export_2026-01-05.csv",
            "file_size": 1536,
            "filters_applied": {"start_date": "2026-01-01", "end_date": "2026-01-04"},
        }
        values.update(fields)
        run = ExportHistory(**values)
        db.session.add(run)
        db.session.commit()
        return run

    return make


@pytest.fixture
def owner(client, auth, tenant):
    """The test client, signed in as the tenant's owner."""
    assert auth.login(tenant.owner.email).status_code == 302
    return client


@pytest.fixture
def manager(client, auth, tenant):
    assert auth.login(tenant.manager.email).status_code == 302
    return client
