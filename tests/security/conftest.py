"""Fixtures for the security tests: two businesses holding everything an attacker would reach for
(schedules, finished runs with their files, notification settings, API tokens), clients signed in
as each role, and a snapshot of every table to prove that a refused request changed nothing."""

from __future__ import annotations

import pytest

from tests.security.security_helpers import World, build_world


@pytest.fixture
def world(app, factory) -> World:
    """Business A (the target) and business B (the attacker), each with an owner and a manager."""
    return build_world(app, factory)


@pytest.fixture
def csrf_app(app_factory):
    """The usual test app with CSRF protection switched on, as in production."""
    application = app_factory(WTF_CSRF_ENABLED=True)
    with application.app_context():
        yield application


def pytest_terminal_summary(terminalreporter):
    """Print what the security tests measured (the isolation table's size, payloads per category)."""
    from tests.security.security_helpers import MEASURED

    if not MEASURED:
        return
    terminalreporter.section("security figures")
    for name, figures in sorted(MEASURED.items()):
        terminalreporter.write_line(f"{name}: {figures}")
