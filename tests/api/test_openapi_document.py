"""/api/openapi.json: a valid OpenAPI 3.1 document that names every /api/ route and method of the URL
map (and nothing else), public, with the components the contract asks for."""

from __future__ import annotations

import jsonschema
from openapi_spec_validator import validate

from dashboard.api.openapi import api_routes, document


def test_the_document_is_served_without_signing_in(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.is_json
    assert response.get_json()["openapi"].startswith("3.1")


def test_the_document_is_valid_openapi_3_1(app):
    validate(document())


def test_every_api_route_and_method_is_documented_and_nothing_else(app):
    doc = document()
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    registered = set(api_routes(app))
    assert registered - documented == set(), "routes missing from /api/openapi.json"
    assert documented - registered == set(), "documented operations that do not exist"
    # The seed's full endpoint list and the contract's additions, by name.
    for path, method in [
        ("/api/reports/automation/schedules/", "get"),
        ("/api/reports/automation/schedules/", "post"),
        ("/api/reports/automation/schedules/{id}/", "get"),
        ("/api/reports/automation/schedules/{id}/", "put"),
        ("/api/reports/automation/schedules/{id}/", "patch"),
        ("/api/reports/automation/schedules/{id}/", "delete"),
        ("/api/reports/automation/schedules/{id}/activate/", "post"),
        ("/api/reports/automation/schedules/{id}/deactivate/", "post"),
        ("/api/reports/automation/schedules/{id}/trigger/", "post"),
        ("/api/reports/automation/schedules/upcoming/", "get"),
        ("/api/reports/automation/schedules/overdue/", "get"),
        ("/api/reports/automation/schedules/preview/", "post"),
        ("/api/reports/automation/history/", "get"),
        ("/api/reports/automation/history/{id}/", "get"),
        ("/api/reports/automation/history/{id}/download/", "get"),
        ("/api/reports/automation/history/{id}/rerun/", "post"),
        ("/api/reports/automation/history/statistics/", "get"),
        ("/api/reports/automation/history/recent/", "get"),
        ("/api/reports/automation/notifications/", "get"),
        ("/api/reports/automation/notifications/", "put"),
        ("/api/reports/exports/", "post"),
        ("/api/openapi.json", "get"),
    ]:
        assert (path, method) in registered, (path, method)


def test_components_and_security(app):
    doc = document()
    schemas = doc["components"]["schemas"]
    for name in (
        "Schedule",
        "History",
        "HistoryDetail",
        "Statistics",
        "NotificationSettings",
        "Error",
        "ValidationError",
        "PaginatedSchedules",
        "PaginatedHistory",
        "Preview",
    ):
        assert name in schemas, name
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids)) and all(operation_ids)


def test_request_examples_match_their_schemas(app):
    doc = document()
    resolver_doc = {"components": doc["components"]}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            for name, example in media.get("examples", {}).items():
                schema = {**media["schema"], **resolver_doc}
                jsonschema.validate(example["value"], schema, cls=jsonschema.Draft202012Validator)
                assert name, (path, method)


def test_documented_examples_are_accepted(owner_api):
    """The examples in the document work as written (what a reader copies first)."""
    doc = document()
    examples = doc["paths"]["/api/reports/automation/schedules/"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    for name, example in examples.items():
        response = owner_api.post("/api/reports/automation/schedules/", json=example["value"])
        assert response.status_code == 201, (name, response.get_json())
    for path, key in [
        ("/api/reports/automation/schedules/preview/", "post"),
        ("/api/reports/exports/", "post"),
        ("/api/reports/automation/notifications/", "put"),
    ]:
        content = doc["paths"][path][key]["requestBody"]["content"]["application/json"]
        for name, example in content["examples"].items():
            response = owner_api._call(key.upper(), path, json=example["value"])
            assert response.status_code < 300, (path, name, response.get_json())
