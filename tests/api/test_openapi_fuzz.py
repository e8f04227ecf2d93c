"""schemathesis against /api/openapi.json: every operation, generated requests (valid and invalid),
sent through WSGI to the real app on a file-backed SQLite database, authenticated with a real
Bearer token. No answer may be a 500, and every answer must match the document: its status code,
content type, headers and body schema. Schema-invalid requests must be refused with a 4xx.

Ids in paths are mixed: about half the generated cases aim at a real schedule or run of the
business (so trigger, rerun, download, PUT and DELETE do real work), the rest at random UUIDs.

`positive_data_acceptance` is left out on purpose: a JSON Schema cannot state every rule of the
contract (a weekly schedule needs its day of the week, addresses must be deliverable-looking,
SALES needs a period), so a schema-valid body may rightly answer 400.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard.auth.tokens import create_token
from dashboard.extensions import db
from tests.api.conftest import make_history, make_schedule, store_file
from tests.conftest import Factory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("TEST_DATABASE_URL")),
        reason="runs on its own file-backed SQLite database; once per suite is enough",
    ),
]

EXAMPLES_PER_MODE = int(os.environ.get("API_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


@pytest.fixture
def fuzz_app(app_factory, tmp_path):
    app = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'fuzz.sqlite3'}")
    with app.app_context():
        factory = Factory(app)
        business = factory.business("Fuzz Shop", timezone="Europe/London")
        owner = factory.user(business, role="owner", email="owner@fuzz.example.com")
        token = create_token(owner.memberships[0])
        schedules = [
            make_schedule(business, owner, name="Weekly customers", export_type="CUSTOMERS", filters={}),
            make_schedule(business, owner, name="Monthly stock", export_type="INVENTORY", filters={}),
            make_schedule(
                business,
                owner,
                name="Overdue audit",
                export_type="AUDIT_LOGS",
                next_run_at=datetime.now(UTC) - timedelta(hours=1),
            ),
        ]
        runs = []
        for status in ("COMPLETED", "EMAILED", "FAILED", "PENDING"):
            run = make_history(business, owner, schedules[0], status=status, file_name="customers.csv")
            if status in ("COMPLETED", "EMAILED"):
                store_file(app, run)
            runs.append(run)
        ids = {
            "schedules": [str(s.id) for s in schedules],
            "history": [str(h.id) for h in runs],
        }
        db.session.remove()
    return app, token, ids


def _real_id(operation_path: str, ids: dict) -> list[str]:
    if "/schedules/{id}" in operation_path:
        return ids["schedules"]
    if "/history/{id}" in operation_path:
        return ids["history"]
    return []


def _call_and_check(app, case, headers: dict, statuses: Counter) -> None:
    with app.app_context():
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)


def _settings(max_examples: int):
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def _documented_examples(app, schema, operation, real_ids: list[str], headers: dict, statuses: Counter):
    """The request examples written in the document, aimed at a real object when there is an id."""
    strategies = schema.get_strategies_from_examples(operation)
    if not strategies:
        return

    @_settings(3 * len(strategies))
    @given(case=st.one_of(strategies), pick=st.integers(0, 9))
    def check(case, pick):
        if real_ids:
            case.path_parameters = {**(case.path_parameters or {}), "id": real_ids[pick % len(real_ids)]}
        _call_and_check(app, case, headers, statuses)

    check()


def _fuzz(app, operation, mode: GenerationMode, real_ids: list[str], headers: dict, statuses: Counter):
    """EXAMPLES_PER_MODE generated requests for one operation; half of the valid ones aim at real ids."""

    @_settings(EXAMPLES_PER_MODE)
    @given(case=operation.as_strategy(generation_mode=mode), aim=st.booleans(), pick=st.integers(0, 9))
    def check(case, aim, pick):
        if real_ids and aim and mode is GenerationMode.POSITIVE:
            case.path_parameters = {**(case.path_parameters or {}), "id": real_ids[pick % len(real_ids)]}
        _call_and_check(app, case, headers, statuses)

    check()


def test_every_operation_conforms_to_the_document(fuzz_app):
    app, token, ids = fuzz_app
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 22
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    for operation in operations:
        real_ids = _real_id(operation.path, ids)
        _documented_examples(app, schema, operation, real_ids, headers, statuses)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            takes_input = any(
                len(part)
                for part in (operation.path_parameters, operation.query, operation.headers, operation.body)
            )
            if mode is GenerationMode.NEGATIVE and not takes_input:
                continue  # nothing to make invalid (GET /api/version): hypothesis finds no case
            _fuzz(app, operation, mode, real_ids, headers, statuses)
    elapsed = time.monotonic() - started
    cases = sum(statuses.values())
    print(
        f"\nschemathesis: {cases} cases over {len(operations)} operations "
        f"in {elapsed:.1f}s; statuses {dict(sorted(statuses.items()))}"
    )
    assert cases >= len(operations) * 2 * EXAMPLES_PER_MODE // 2
    assert 500 not in statuses
    # Both kinds of answer were exercised: real work and refused input.
    assert {200, 201, 202, 204} <= set(statuses) and {400, 404, 409} <= set(statuses)
