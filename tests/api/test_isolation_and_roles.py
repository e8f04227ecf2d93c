"""Tenant isolation and roles, generated from the URL map: every API route that takes an id, with every
method it accepts, answers another business's object exactly as a missing one (404, same body) and
changes nothing; owner-only endpoints answer a manager 403. A new route is covered automatically."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from dashboard.api.openapi import api_routes
from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory, ExportSchedule
from tests.api.conftest import BASE

BODIES = {
    "post": {"send_email": False},
    "put": {
        "name": "Hijacked",
        "export_type": "INVENTORY",
        "format": "csv",
        "frequency": "DAILY",
        "hour": 1,
        "filters": {},
    },
    "patch": {"name": "Hijacked", "is_active": False},
    "delete": None,
    "get": None,
}
OWNER_ONLY = {
    (f"{BASE}/history/statistics/", "get"),
    (f"{BASE}/notifications/", "get"),
    (f"{BASE}/notifications/", "put"),
    (f"{BASE}/notifications/", "patch"),
}


def _id_routes(app) -> list[tuple[str, str]]:
    # The export automation API; members and tokens (/api/business/) have their own access kinds in
    # tests/security/test_isolation_table.py (owner-only, member-id, token-id).
    return [
        (path, method)
        for path, method in api_routes(app)
        if "{id}" in path and path.startswith("/api/reports/")
    ]


def _snapshot(business_id) -> dict:
    schedules = db.session.scalars(select(ExportSchedule).where(ExportSchedule.business_id == business_id))
    return {
        "schedules": sorted(
            (str(s.id), s.name, s.is_active, s.last_run_at, s.next_run_at) for s in schedules
        ),
        "history": db.session.scalar(
            select(func.count()).select_from(ExportHistory).where(ExportHistory.business_id == business_id)
        ),
        "audit": db.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.business_id == business_id)
        ),
    }


def test_the_table_covers_every_id_route(app):
    routes = _id_routes(app)
    # schedules: GET PUT PATCH DELETE, activate, deactivate, trigger, a destination's test (issue 19);
    # history: GET, download, rerun; presets: GET, DELETE
    assert len(routes) == 13, routes
    assert len({p for p, _ in routes}) == 9


def _kind(path: str) -> str:
    return next(kind for kind in ("schedules", "presets", "history") if f"/{kind}/" in path)


def test_another_business_s_objects_answer_exactly_like_missing_ones(
    app, owner_api, other_tenant, foreign_schedule, foreign_history, foreign_preset
):
    foreign = {
        "schedules": str(foreign_schedule.id),
        "history": str(foreign_history.id),
        "presets": str(foreign_preset.id),
    }
    before = _snapshot(other_tenant.business.id)
    checked = 0
    for path, method in _id_routes(app):
        kind = _kind(path)
        body = BODIES[method]
        for object_id in (foreign[kind], str(uuid.uuid4())):
            url = path.replace("{id}", object_id)
            response = owner_api._call(method.upper(), url, json=body)
            assert response.status_code == 404, (method, url, response.get_json())
            assert response.get_json() == {"detail": "Not found."}, (method, url)
            # and without the trailing slash
            response = owner_api._call(method.upper(), url.rstrip("/"), json=body)
            assert response.status_code == 404, (method, url)
            checked += 2
        for malformed in ("not-a-uuid", "1", "' OR 1=1 --", f"{foreign[kind]}x"):
            response = owner_api._call(method.upper(), path.replace("{id}", malformed), json=body)
            assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}
            checked += 1
    assert checked == 13 * 8
    db.session.expire_all()
    assert _snapshot(other_tenant.business.id) == before
    assert db.session.get(ExportSchedule, foreign_schedule.id).name == "Their schedule"


def test_foreign_ids_in_query_parameters_find_nothing(owner_api, foreign_schedule, foreign_history):
    body = owner_api.get(f"{BASE}/history/?schedule_id={foreign_schedule.id}").get_json()
    assert body["count"] == 0 and body["results"] == []


@pytest.mark.parametrize("path, method", sorted(OWNER_ONLY))
def test_managers_get_403_on_owner_endpoints(manager_api, tenant, path, method):
    before = _snapshot(tenant.business.id)
    response = manager_api._call(method.upper(), path, json={"notify_on_success": True})
    assert response.status_code == 403 and response.is_json
    db.session.expire_all()
    assert _snapshot(tenant.business.id) == before


def test_managers_may_use_every_other_endpoint(app, manager_api, tenant, schedule):
    from dashboard.services.destinations import secret_box
    from dashboard.services.presets import create_preset
    from tests.api.conftest import make_history, store_file

    # A destination (issue 19) for its "send a test": a loopback address, refused without a connection.
    schedule.destinations = [
        {"id": "destination-0", "kind": "slack", "url": secret_box().encrypt("https://127.0.0.1:9/x")}
    ]
    db.session.commit()
    run = make_history(tenant.business, tenant.owner, schedule, file_name="m.csv")
    store_file(app, run)
    preset = create_preset(tenant.business, tenant.owner, {"name": "Owner's", "export_type": "INVENTORY"})
    for path, method in api_routes(app):
        if (path, method) in OWNER_ONLY or path == "/api/openapi.json":
            continue
        if not path.startswith("/api/reports/"):
            continue  # members, tokens, me: their roles are in tests/security/test_isolation_table.py
        if method == "delete":
            continue  # checked last, it removes the schedule
        kind_id = {"schedules": str(schedule.id), "history": str(run.id), "presets": str(preset.id)}.get(
            _kind(path) if "{id}" in path else "", ""
        )
        url = path.replace("{id}", kind_id).replace("{destination_id}", "destination-0")
        body = {
            "post": {},
            "put": BODIES["put"],
            "patch": {"name": "Manager's"},
        }.get(method)
        if path.endswith("/schedules/") and method == "post":
            body = BODIES["put"]
        if path.endswith("/preview/"):
            body = {"frequency": "DAILY", "hour": 3}
        if path.endswith("/presets/") and method == "post":
            body = {"name": "Manager's preset", "export_type": "INVENTORY"}
        if path == "/api/reports/exports/":
            body = {"export_type": "INVENTORY", "format": "csv"}
        response = manager_api._call(method.upper(), url, json=body)
        assert response.status_code < 400, (method, url, response.get_json())
    assert manager_api.delete(f"{BASE}/schedules/{schedule.id}/").status_code == 204
