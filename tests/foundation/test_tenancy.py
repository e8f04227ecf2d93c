"""One place scopes every query to the current business; roles gate owner pages."""

from __future__ import annotations

import uuid

import pytest
from flask import Blueprint
from werkzeug.exceptions import Forbidden

from dashboard.core.errors import NotFound
from dashboard.models import Business, ExportSchedule
from dashboard.tenancy import get_scoped, get_scoped_or_404, is_member_of, is_owner_of, role_of, role_required


def _schedule(business, name="S"):
    from dashboard.extensions import db

    schedule = ExportSchedule(
        business_id=business.id, name=name, export_type="SALES", format="csv", frequency="DAILY", hour=8
    )
    db.session.add(schedule)
    db.session.commit()
    return schedule


def test_scoped_lookup_hides_other_businesses(app, tenant, other_tenant):
    mine = _schedule(tenant.business)
    theirs = _schedule(other_tenant.business)
    assert get_scoped(ExportSchedule, mine.id, tenant.business.id) is mine
    assert get_scoped(ExportSchedule, theirs.id, tenant.business.id) is None
    for bad in (str(uuid.uuid4()), "not-a-uuid", "", None, "1; DROP TABLE x"):
        assert get_scoped(ExportSchedule, bad, tenant.business.id) is None
    # The not-found error is dashboard/core's (services may raise it too); every face answers 404.
    with pytest.raises(NotFound):
        get_scoped_or_404(ExportSchedule, theirs.id, tenant.business.id)


def test_a_foreign_id_is_a_404_on_the_pages_and_the_api(app, tenant, other_tenant, client, auth):
    theirs = _schedule(other_tenant.business)
    auth.login(tenant.owner.email)
    for path in (f"/schedules/{theirs.id}/edit", f"/api/reports/automation/schedules/{theirs.id}/"):
        response = client.get(path)
        assert response.status_code == 404, path
    assert client.get(f"/api/reports/automation/schedules/{theirs.id}/").get_json() == {
        "detail": "Not found."
    }


def test_an_unknown_role_name_fails_when_the_view_is_defined():
    with pytest.raises(ValueError, match="Unknown role 'ownr'"):
        role_required("ownr")


def test_role_of(app, tenant, other_tenant):
    business = tenant.business
    assert role_of(business.id, tenant.owner.id) == "owner" and is_owner_of(business.id, tenant.owner.id)
    assert role_of(business.id, other_tenant.owner.id) is None and not is_member_of(
        business.id, other_tenant.owner.id
    )
    assert role_of(business.id, None) is None and not is_owner_of(business.id, None)


def test_role_required_owner(app_factory):
    app = app_factory()
    bp = Blueprint("probe", __name__)

    @bp.route("/probe-owner")
    @role_required("owner")
    def probe():
        return "owner page"

    app.register_blueprint(bp)
    with app.app_context():
        from tests.conftest import AuthActions, Factory

        f = Factory(app)
        business = f.business()
        owner = f.user(business, role="owner")
        manager = f.user(business, role="manager")
        owner_email, manager_email = owner.email, manager.email
    client = app.test_client()
    AuthActions(client).login(manager_email)
    assert client.get("/probe-owner").status_code == 403
    AuthActions(client).logout()
    AuthActions(client).login(owner_email)
    assert client.get("/probe-owner").data == b"owner page"
    assert Forbidden.code == 403 and Business  # imported names used
