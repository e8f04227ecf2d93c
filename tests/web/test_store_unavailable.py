"""When the file store does not answer, every download door says so (503, Retry-After) and keeps the
run as it is: the file is not gone, it just cannot be fetched now. The store here is a real S3 client
pointed at a port where nothing listens (an outage, as the client meets it)."""

from __future__ import annotations

import socket
import uuid

import pytest

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory
from dashboard.services.downloads import STORAGE_RETRY_AFTER_SECONDS
from dashboard.storage.links import make_download_url

RETRY_AFTER = str(STORAGE_RETRY_AFTER_SECONDS)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe goes


@pytest.fixture
def app(app_factory, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    application = app_factory(
        STORAGE_BACKEND="s3",
        S3_BUCKET="exports-outage",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{_closed_port()}",
    )
    with application.app_context():
        yield application


@pytest.fixture
def stored_run(tenant) -> ExportHistory:
    history = ExportHistory(
        business_id=tenant.business.id,
        export_type="SALES",
        format="csv",
        trigger="MANUAL",
        status="COMPLETED",
        file_name="sales_export_2026-12-01.csv",
        file_size=1234,
        file_path=f"exports/{tenant.business.id}/2026/12/{uuid.uuid4()}/sales_export_2026-12-01.csv",
        record_count=10,
    )
    db.session.add(history)
    db.session.commit()
    return history


def _unchanged(history: ExportHistory) -> None:
    db.session.expire_all()
    run = db.session.get(ExportHistory, history.id)
    assert run.status == "COMPLETED" and run.file_path == history.file_path
    # Nothing was downloaded, so nothing is audited as a download.
    assert db.session.query(AuditLog).filter_by(action="export.download").count() == 0


def test_the_api_answers_503_with_retry_after(client, tenant, stored_run, api_token):
    response = client.get(
        f"/api/reports/automation/history/{stored_run.id}/download/",
        headers=api_token(tenant.owner, tenant.business),
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == RETRY_AFTER
    assert "try again in a minute" in response.get_json()["detail"]
    _unchanged(stored_run)


def test_the_dashboard_answers_503_with_retry_after(client, auth, tenant, stored_run):
    auth.login(tenant.owner.email)
    response = client.get(f"/history/{stored_run.id}/download")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == RETRY_AFTER
    assert b"try again in a minute" in response.data
    _unchanged(stored_run)


def test_an_email_link_says_try_again_and_names_the_file(client, stored_run):
    link = make_download_url(stored_run)
    path = link[link.index("/d/") :]
    response = client.get(f"{path}/file")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == RETRY_AFTER
    page = response.get_data(as_text=True)
    assert "cannot be fetched right now" in page and "sales_export_2026-12-01.csv" in page
    assert "no longer available" not in page
    _unchanged(stored_run)
