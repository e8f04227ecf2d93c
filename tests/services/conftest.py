"""Fast tenants for the service tests: no password hashing (scrypt costs ~0.2 s a user)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.services.service_helpers import make_tenant


@pytest.fixture
def shop(app) -> SimpleNamespace:
    return make_tenant("Test Shop")


@pytest.fixture
def other_shop(app) -> SimpleNamespace:
    return make_tenant("Other Shop", "America/New_York")


@pytest.fixture
def tenant_in(app):
    """`tenant_in(name, timezone)` makes another tenant."""
    return make_tenant
