"""orjson behind the JSON columns and the API's responses (dashboard/core/fast_json.py): the same
values as the standard library gave, and the standard library for whatever orjson refuses."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from dashboard.core import fast_json
from dashboard.core.fast_json import FastJSONProvider

pytestmark = pytest.mark.nodb


@dataclass
class Point:
    x: int
    y: str


VALUES = [
    {"b": 1, "a": [1, 2.5, None, True], "é": "Café ☕"},
    [],
    {},
    "plain",
    {"when": datetime(2026, 12, 5, 7, 0, tzinfo=UTC), "day": date(2026, 12, 5)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "amount": Decimal("12.50")},
    {"point": Point(1, "two")},
]


@pytest.mark.parametrize("value", VALUES)
def test_responses_say_what_flask_said(value):
    app = Flask(__name__)
    fast, standard = FastJSONProvider(app), DefaultJSONProvider(app)
    assert json.loads(fast.dumps(value)) == json.loads(standard.dumps(value))
    assert list(json.loads(fast.dumps(value)) if isinstance(value, dict) else []) == sorted(
        value if isinstance(value, dict) else []
    )


def test_what_orjson_refuses_goes_to_the_standard_library():
    app = Flask(__name__)
    provider = FastJSONProvider(app)
    assert json.loads(provider.dumps({1: "int key"})) == {"1": "int key"}
    assert provider.dumps({"big": 2**70}, separators=(",", ":")) == '{"big":1180591620717411303424}'
    assert "\n" in provider.dumps({"a": 1}, indent=2)  # asked-for formatting: the standard library


def test_columns_written_by_the_standard_library_read_back():
    assert fast_json.loads('{"rate": NaN}')["rate"] != fast_json.loads('{"rate": NaN}')["rate"]
    assert math.isinf(fast_json.loads("[Infinity]")[0])
    # Every integer a column can hold reads exactly (the largest stored is min_records, 10^12).
    assert fast_json.loads(b'{"n": 9223372036854775807}')["n"] == 2**63 - 1
    assert fast_json.loads('{"min_records": 1000000000000}') == {"min_records": 10**12}
    assert fast_json.loads(b'["accounts@example.com"]') == ["accounts@example.com"]
    with pytest.raises(ValueError):
        fast_json.loads("{not json")


def test_the_app_answers_through_it(app):
    assert isinstance(app.json, FastJSONProvider)
    with app.test_request_context():
        response = app.json.response({"z": 1, "a": "é"})
    assert response.get_data(as_text=True) == '{"a":"é","z":1}\n'
