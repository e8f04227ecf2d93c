"""Each field is declared once (services/field_sets.py) and the API's validation, the OpenAPI
document and the page forms all follow that declaration: every declared field is in the document
with its enum, minimum/maximum and nullability; an out-of-range value is refused with the declared
message by the API and by the FlaskForm alike; the rules across fields say the same in Python and
in JSON Schema."""

from __future__ import annotations

import itertools

import jsonschema
import pytest
from werkzeug.datastructures import MultiDict

from dashboard.api.openapi import document
from dashboard.services.field_kinds import Choice, Integer
from dashboard.services.field_rules import DAY_FIELDS, timing_conflicts_alone
from dashboard.services.field_sets import NOTIFICATIONS, ONE_OFF, PREVIEW, SCHEDULE, TRIGGER
from dashboard.web import forms

BASE = "/api/reports/automation"
COMPONENTS = {
    "ScheduleCreate": SCHEDULE,
    "SchedulePatch": SCHEDULE,
    "OneOffExportRequest": ONE_OFF,
    "TriggerRequest": TRIGGER,
    "PreviewRequest": PREVIEW,
    "NotificationSettingsUpdate": NOTIFICATIONS,
}
VALID = {
    "name": "Declared once",
    "export_type": "CUSTOMERS",
    "format": "csv",
    "frequency": "DAILY",
    "hour": 8,
    "recipients": ["a@example.com"],
}


def _schema_of(component: str, name: str) -> dict:
    return document()["components"]["schemas"][component]["properties"][name]


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_every_declared_field_is_in_the_document_as_declared(app, component):
    fieldset = COMPONENTS[component]
    properties = document()["components"]["schemas"][component]["properties"]
    for field in fieldset.fields:
        assert field.name in properties, (component, field.name)
        schema = properties[field.name]
        if isinstance(field.kind, Choice):
            assert set(schema["enum"]) - {None} == set(field.kind.choices)
        if isinstance(field.kind, Integer):
            ranges = schema.get("anyOf", [schema])
            assert ranges[0]["minimum"] == field.kind.minimum and ranges[0]["maximum"] == field.kind.maximum
            assert [r["const"] for r in ranges[1:] if "const" in r] == list(field.kind.also)
        types = schema.get("type", [])
        assert ("null" in types) == field.nullable, (component, field.name, types)
    required = document()["components"]["schemas"][component].get("required", [])
    expected = [] if component in ("SchedulePatch", "NotificationSettingsUpdate") else list(fieldset.required)
    assert required == expected


INTEGER_FIELDS = [f for f in SCHEDULE.fields if isinstance(f.kind, Integer)]


@pytest.mark.parametrize("field", INTEGER_FIELDS, ids=[f.name for f in INTEGER_FIELDS])
def test_an_out_of_range_value_gets_the_declared_message_from_the_api_and_the_form(owner_api, field):
    bad = field.kind.maximum + 1
    body = {**VALID, "frequency": "MONTHLY", "day_of_month": 1, field.name: bad}
    response = owner_api.post(f"{BASE}/schedules/", json=body)
    assert response.status_code == 400
    assert response.get_json()["errors"][field.name] == [field.message]

    form = forms.ScheduleForm(
        formdata=MultiDict({**{k: str(v) for k, v in VALID.items()}, field.name: str(bad)})
    )
    assert not form.validate()
    assert form.errors[field.name] == [field.message]
    assert form[field.name].label.text == field.label


@pytest.mark.parametrize("field", [SCHEDULE["export_type"], SCHEDULE["format"], SCHEDULE["frequency"]])
def test_a_wrong_choice_gets_the_declared_message_from_the_api_and_the_form(owner_api, field):
    response = owner_api.post(f"{BASE}/schedules/", json={**VALID, field.name: "NOPE"})
    assert response.status_code == 400 and response.get_json()["errors"][field.name] == [field.message]
    form = forms.ScheduleForm(formdata=MultiDict({field.name: "NOPE"}))
    form.validate()
    assert form.errors[field.name] == [field.message]
    assert [choice.value for choice in form[field.name].choices] == list(field.kind.choices)


def test_the_page_form_shows_the_declared_message(client, auth, tenant):
    auth.login(tenant.owner.email)
    response = client.post(
        "/schedules/new",
        data={"name": "x", "export_type": "CUSTOMERS", "format": "csv", "frequency": "DAILY", "hour": "24"},
    )
    assert response.status_code == 422
    assert SCHEDULE["hour"].message in response.get_data(as_text=True)


def test_the_timing_rules_say_the_same_in_python_and_in_json_schema(app):
    """For every combination of sent frequency and day fields, `timing_conflicts_alone` (what makes
    an update a 400 rather than a 409) agrees with the document's PATCH schema."""
    patch = document()["components"]["schemas"]["SchedulePatch"]
    validator = jsonschema.Draft202012Validator({"allOf": patch["allOf"]})
    options = {"frequency": [..., "DAILY", "WEEKLY", "MONTHLY"]}
    options.update({name: [..., None, 1] for name in DAY_FIELDS})
    checked = 0
    for combination in itertools.product(*options.values()):
        sent = {name: value for name, value in zip(options, combination, strict=True) if value is not ...}
        conflicts = timing_conflicts_alone(sent, set(sent))
        assert conflicts == (not validator.is_valid(sent)), sent
        checked += 1
    assert checked == 4 * 3**3


def test_the_create_schema_states_the_day_rules_that_validation_applies(app):
    create = document()["components"]["schemas"]["ScheduleCreate"]
    schema_validator = jsonschema.Draft202012Validator({"allOf": create["allOf"]})

    def valid(body: dict) -> bool:  # a new schedule also needs its format (the formats rule)
        return schema_validator.is_valid({"format": "csv", **body})

    assert valid({"frequency": "WEEKLY", "day_of_week": 2})
    assert not valid({"frequency": "WEEKLY"})
    assert not valid({"frequency": "DAILY", "day_of_week": 2})
    assert valid({"frequency": "MONTHLY", "week_of_month": 2, "day_of_week": 1})
    assert not valid({"frequency": "MONTHLY", "day_of_month": 2, "day_of_week": 1})
    assert not valid({"export_type": "SALES", "filters": {}})
    assert valid({"export_type": "SALES", "filters": {"date_range": "yesterday"}})
    assert not valid({"export_type": "CUSTOMERS", "filters": {"date_range": "yesterday"}})
