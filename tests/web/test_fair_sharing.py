"""Sharing between businesses through the doors people use (issue 15, CONTRACT section 6): a full
export queue answers 429 with Retry-After and creates nothing (API and pages, a clear message on
the page, never a 500); the dashboard's run and test-mail buttons are rate limited per user and
per business (Redis db 10, as production counts in Redis).

Each of these failed on the code before: the queue took every request (202, 200, 303), and the
buttons had no limit.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory
from dashboard.models.types import utcnow
from tests.api.conftest import ApiClient, bearer
from tests.web.web_helpers import HX

EXPORTS_API = "/api/reports/exports/"
BASE = "/api/reports/automation"
REDIS_URL = "redis://127.0.0.1:6379/10"


def _fill_queue(business, count: int) -> None:
    for _ in range(count):
        db.session.add(
            ExportHistory(
                business_id=business.id,
                export_type="INVENTORY",
                format="csv",
                trigger="MANUAL",
                status="PENDING",
                created_at=utcnow(),
            )
        )
    db.session.commit()


def _counts() -> tuple[int, int]:
    runs = db.session.scalar(select(func.count()).select_from(ExportHistory))
    audits = db.session.scalar(select(func.count()).select_from(AuditLog))
    db.session.rollback()
    return runs, audits


@pytest.fixture
def full_queue(app, tenant, make_schedule, make_run):
    """The tenant's queue at its cap (2), one schedule and one finished run to act on."""
    app.config["EXPORT_MAX_QUEUED_PER_BUSINESS"] = 2
    schedule = make_schedule(tenant.business, tenant.owner, export_type="INVENTORY", filters={})
    finished = make_run(tenant.business, export_type="INVENTORY", filters_applied={})
    _fill_queue(tenant.business, 2)
    return schedule, finished


def _assert_refused(response, before: tuple[int, int]) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert _counts() == before  # no run, no audit entry


def test_api_refuses_over_the_queue_cap_and_creates_nothing(app, client, tenant, full_queue):
    schedule, finished = full_queue
    api = ApiClient(client, bearer(tenant.owner, tenant.business))
    before = _counts()
    for path, body in (
        (EXPORTS_API, {"export_type": "INVENTORY", "format": "csv"}),
        (f"{BASE}/schedules/{schedule.id}/trigger/", {}),
        (f"{BASE}/history/{finished.id}/rerun/", None),
    ):
        response = api.post(path, json=body)
        _assert_refused(response, before)
        assert "exports waiting" in response.get_json()["detail"]


def test_api_accepts_again_once_the_queue_moves(app, client, tenant, full_queue):
    api = ApiClient(client, bearer(tenant.owner, tenant.business))
    db.session.execute(ExportHistory.__table__.update().values(status="COMPLETED"))
    db.session.commit()
    response = api.post(EXPORTS_API, json={"export_type": "INVENTORY", "format": "csv"})
    assert response.status_code == 202


def test_another_business_is_not_refused_for_a_full_neighbour(app, client, tenant, other_tenant, full_queue):
    api = ApiClient(client, bearer(other_tenant.owner, other_tenant.business))
    response = api.post(EXPORTS_API, json={"export_type": "INVENTORY", "format": "csv"})
    assert response.status_code == 202


@pytest.mark.parametrize("htmx", [False, True])
def test_pages_refuse_over_the_queue_cap_with_a_clear_message(owner, tenant, full_queue, htmx):
    schedule, finished = full_queue
    headers = HX if htmx else {}
    before = _counts()
    for path, data in (
        ("/exports/new", {"export_type": "INVENTORY", "format": "csv"}),
        (f"/schedules/{schedule.id}/run", {}),
        (f"/schedules/{schedule.id}/test", {}),
        (f"/history/{finished.id}/rerun", {}),
    ):
        response = owner.post(path, data=data, headers=headers)
        _assert_refused(response, before)
        body = response.get_data(as_text=True)
        # The error page's reason is what htmx shows as the toast (static/js/app.js).
        message = re.search(r"<p data-error-message>([^<]+)</p>", body)
        assert message and "exports waiting to run" in message.group(1), body[:500]


# ---- dashboard rate limits -------------------------------------------------------------------------


@pytest.fixture
def limited_app(app_factory):
    """Rate limits on, counted in Redis (db 10) under a prefix of this test's own."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    application = app_factory(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=f"fairtest-{uuid.uuid4().hex}",
        DASHBOARD_RUN_RATE_LIMIT="2 per minute",
        DASHBOARD_RUN_RATE_LIMIT_PER_BUSINESS="3 per minute",
    )
    with application.app_context():
        yield application


@pytest.fixture
def limited_factory(limited_app):
    from tests.conftest import Factory

    return Factory(limited_app)


def _sign_in(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": "correct-horse-battery"})
    assert response.status_code == 302
    return client


def _limited_answer(response) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_data(as_text=True)
    assert "You started too many exports or test mails in a short time" in body


def test_run_buttons_are_limited_per_user(limited_app, limited_factory):
    from dashboard.services import schedules as schedule_service
    from tests.web.web_helpers import schedule_data

    business = limited_factory.business("Limited Shop")
    owner = limited_factory.user(business, role="owner")
    schedule = schedule_service.create_schedule(
        business, owner, schedule_data(export_type="INVENTORY", filters={})
    )
    client = _sign_in(limited_app, owner.email)
    # Two clicks on any of the buttons are allowed; the third (another button) is one too many.
    assert client.post(f"/schedules/{schedule.id}/run", headers=HX).status_code == 200
    assert client.post(f"/schedules/{schedule.id}/test", headers=HX).status_code == 200
    runs_before = _counts()[0]
    for path in ("/exports/new", f"/schedules/{schedule.id}/run"):
        _limited_answer(client.post(path, data={"export_type": "INVENTORY", "format": "csv"}, headers=HX))
    _limited_answer(client.post(f"/schedules/{schedule.id}/run"))  # a plain form post: the page
    assert _counts()[0] == runs_before
    # Showing the export form is not limited.
    assert client.get("/exports/new").status_code == 200


def test_run_buttons_are_limited_per_business(limited_app, limited_factory):
    from dashboard.services import schedules as schedule_service
    from tests.web.web_helpers import schedule_data

    business = limited_factory.business("Shared Shop")
    first = limited_factory.user(business, role="owner")
    second = limited_factory.user(business, role="manager")
    outsider_business = limited_factory.business("Elsewhere")
    outsider = limited_factory.user(outsider_business, role="owner")
    schedule = schedule_service.create_schedule(
        business, first, schedule_data(export_type="INVENTORY", filters={})
    )
    other_schedule = schedule_service.create_schedule(
        outsider_business, outsider, schedule_data(export_type="INVENTORY", filters={})
    )
    a, b, c = (_sign_in(limited_app, user.email) for user in (first, second, outsider))
    assert a.post(f"/schedules/{schedule.id}/run", headers=HX).status_code == 200
    assert a.post(f"/schedules/{schedule.id}/run", headers=HX).status_code == 200
    assert b.post(f"/schedules/{schedule.id}/run", headers=HX).status_code == 200
    # The business's 3 per minute are used up, although the second person clicked only once.
    _limited_answer(b.post(f"/schedules/{schedule.id}/run", headers=HX))
    # Another business is not held back by it.
    assert c.post(f"/schedules/{other_schedule.id}/run", headers=HX).status_code == 200


def test_the_openapi_document_says_which_429_means_a_full_queue(client):
    document = client.get("/api/openapi.json").get_json()
    for path in (f"{BASE}/schedules/{{id}}/trigger/", f"{BASE}/history/{{id}}/rerun/", EXPORTS_API):
        refused = document["paths"][path]["post"]["responses"]["429"]
        assert refused == {"$ref": "#/components/responses/QueueFull"}
    queue_full = document["components"]["responses"]["QueueFull"]
    assert "Retry-After" in queue_full["headers"]
    assert "EXPORT_MAX_QUEUED_PER_BUSINESS" in queue_full["description"]
