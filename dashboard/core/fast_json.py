"""JSON through orjson: the database's JSON columns as they are read, and the API's responses.

Measured (issue 21, docs/performance.md): a page of 20 runs decodes 120 JSON values (filters,
recipients, delivery results, summaries, formats), 5-8 µs each with the standard library and
0.1-0.9 µs with orjson; encoding the page was another twentieth of the request. Anything orjson
refuses (NaN, which the standard library writes; keys that are not strings; integers past 64 bits
when writing) goes to the standard library. One difference is left on purpose: orjson reads an
integer past 64 bits as a float. No JSON column holds one (what they store is validated far below:
counts, sizes, `min_records` up to 10^12, amounts as strings), and looking for one in every value
(a regular expression, or a walk of the result) cost most of what orjson saves.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_DUMP_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def loads(text: str | bytes) -> Any:
    """The engine's `json_deserializer` (SQLite's JSON columns; psycopg's json and jsonb)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON as before (sorted keys; dates, dataclasses, decimals and UUIDs as Flask writes
    them), encoded by orjson. Non-ASCII text is written as UTF-8 rather than \\u escapes: the same
    JSON to every reader."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.keys() - {"separators"}:  # indent, ensure_ascii...: the standard library's job
            return super().dumps(obj, **kwargs)
        try:
            return orjson.dumps(obj, default=self.default, option=_DUMP_OPTIONS).decode()
        except TypeError:
            return super().dumps(obj, **kwargs)
