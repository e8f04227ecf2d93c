"""Helpers for the JSON API tests: a client that speaks JSON with a Bearer token, and small factories
for schedules and runs written straight to the database (the API's own create is tested apart)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.auth.tokens import create_token
from dashboard.extensions import db
from dashboard.models import ExportHistory, ExportSchedule

BASE = "/api/reports/automation"


class ApiClient:
    """A test client that sends JSON and an Authorization header (or none)."""

    def __init__(self, client, headers: dict[str, str] | None = None):
        self.client = client
        self.headers = dict(headers or {})

    def _call(self, method: str, path: str, json=None, headers=None, **kwargs):
        all_headers = {**self.headers, **(headers or {})}
        if json is not None:
            kwargs["json"] = json
        return self.client.open(path, method=method, headers=all_headers, **kwargs)

    def get(self, path, **kwargs):
        return self._call("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self._call("POST", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self._call("PUT", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self._call("PATCH", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self._call("DELETE", path, **kwargs)


def bearer(user, business) -> dict[str, str]:
    membership = next(m for m in user.memberships if m.business_id == business.id)
    return {"Authorization": f"Bearer {create_token(membership)}"}


@pytest.fixture
def owner_api(app, client, tenant):
    return ApiClient(client, bearer(tenant.owner, tenant.business))


@pytest.fixture
def manager_api(app, client, tenant):
    return ApiClient(client, bearer(tenant.manager, tenant.business))


@pytest.fixture
def other_api(app, client, other_tenant):
    return ApiClient(client, bearer(other_tenant.owner, other_tenant.business))


@pytest.fixture
def anon_api(app, client):
    return ApiClient(client)


def make_schedule(business, user=None, **fields) -> ExportSchedule:
    values = {
        "name": "Daily sales",
        "export_type": "SALES",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 8,
        "minute": 0,
        "timezone": business.timezone,
        "recipients": ["accounting@example.com"],
        "filters": {"date_range": "yesterday"},
        "is_active": True,
        "next_run_at": datetime.now(UTC) + timedelta(hours=3),
    }
    values.update(fields)
    schedule = ExportSchedule(
        business_id=business.id, created_by_id=user.id if user is not None else None, **values
    )
    db.session.add(schedule)
    db.session.commit()
    return schedule


def make_history(business, user=None, schedule=None, **fields) -> ExportHistory:
    values = {
        "export_type": "SALES",
        "format": "csv",
        "trigger": "MANUAL",
        "status": "COMPLETED",
        "filters_applied": {"start_date": "2024-03-01", "end_date": "2024-03-31"},
        "record_count": 3,
        "created_at": datetime.now(UTC) - timedelta(minutes=5),
    }
    values.update(fields)
    history = ExportHistory(
        business_id=business.id,
        user_id=user.id if user is not None else None,
        schedule_id=schedule.id if schedule is not None else None,
        schedule_name=schedule.name if schedule is not None else "",
        **values,
    )
    db.session.add(history)
    db.session.commit()
    return history


def store_file(app, history: ExportHistory, content: bytes = b"Receipt,Total\r\nR-1,10.00\r\n") -> str:
    """Save a file for `history` through the real storage and record it as the run's file."""
    from dashboard.storage import get_storage

    source = Path(app.config["EXPORT_ROOT"]).parent / f"src-{uuid.uuid4().hex}"
    source.write_bytes(content)
    path = get_storage().save_export_file(
        str(source), history.file_name or "sales_export_2024-03-15.csv", history.business_id, history.id
    )
    history.file_path = path
    history.file_name = history.file_name or "sales_export_2024-03-15.csv"
    history.file_size = len(content)
    db.session.commit()
    return path


@pytest.fixture
def schedule(tenant):
    return make_schedule(tenant.business, tenant.owner)


@pytest.fixture
def foreign_schedule(other_tenant):
    return make_schedule(other_tenant.business, other_tenant.owner, name="Their schedule")


@pytest.fixture
def foreign_preset(other_tenant):
    from dashboard.services.presets import create_preset

    return create_preset(
        other_tenant.business, other_tenant.owner, {"name": "Their preset", "export_type": "INVENTORY"}
    )


@pytest.fixture
def foreign_history(app, other_tenant):
    history = make_history(other_tenant.business, other_tenant.owner, file_name="theirs.csv")
    store_file(app, history)
    return history


class Shared:
    """One app, business, owner and schedule for a module of read-only or refused requests
    (validation rules): set up once instead of once per case, which is most of their cost."""

    app = None
    api: ApiClient
    manager_api: ApiClient
    business = None
    schedule_id: str = ""


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from config import TestConfig
    from dashboard import create_app
    from tests.conftest import TEST_DATABASE_URL, Factory, _reset_database

    root = tmp_path_factory.mktemp("shared")
    overrides = {"EXPORT_ROOT": str(root / "exports"), "MAIL_OUTBOX_DIR": str(root / "outbox")}
    if TEST_DATABASE_URL:
        overrides["SQLALCHEMY_DATABASE_URI"] = TEST_DATABASE_URL
    application = create_app(TestConfig, **overrides)
    state = Shared()
    with application.app_context():
        db.create_all()
        _reset_database()
        factory = Factory(application)
        business = factory.business("Shared Shop", timezone="UTC")
        owner = factory.user(business, role="owner", email="owner@shared.example.com", name="Sid Shared")
        manager = factory.user(business, role="manager", email="manager@shared.example.com")
        client = application.test_client()
        state.app = application
        state.api = ApiClient(client, bearer(owner, business))
        state.manager_api = ApiClient(client, bearer(manager, business))
        state.schedule_id = str(make_schedule(business, owner).id)
        state.business_id = business.id
        db.session.remove()
    yield state
    with application.app_context():
        if TEST_DATABASE_URL:
            _reset_database()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def shared_api(shared):
    with shared.app.app_context():
        yield shared.api
        db.session.remove()
