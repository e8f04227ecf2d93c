"""schemathesis hooks for the rules the OpenAPI document states in words because JSON Schema cannot
state them. Everything else is in the document (generated from the declared fields) and is
generated from it as is. Loaded by the suite's test and by the CLI
(`SCHEMATHESIS_HOOKS=tests.api.schemathesis_hooks`).

Each rule is tested on its own elsewhere (named below). The hooks only steer generated requests
away from breaking these rules by accident; a request generated to be invalid on purpose keeps
what makes it invalid.

- start_date <= end_date (filters of schedules and one-off exports; the history list's dates):
  JSON Schema cannot compare two values. Dates that are both valid but reversed are swapped.
  (tests/exports/test_filters.py, tests/services/test_service_validation.py)
- The history list's `cursor` is an opaque position the server hands out in its links: no schema
  can describe the valid ones, and `page` and `cursor` exclude each other (query parameters cannot
  say so). A generated cursor is replaced by a real one (SCHEMATHESIS_CURSOR, from the served
  instance), and is sent without `page`. (tests/api/test_history_cursor.py)
- `format`, sent with `formats`, is its first (schedules, one-off exports, presets): JSON Schema
  says it only with `prefixItems`, which schemathesis cannot generate from. In a request generated
  to be valid, `format` takes the first item of `formats`. (tests/services/test_service_validation.py)
- A destination's address must resolve, at save time, to an address it may reach (DNS; an SFTP
  host key is fetched and pinned): no schema can say which names resolve. A request generated to be
  valid is sent without `destinations`; they are tested against real servers on loopback in
  tests/destinations/.
"""

from __future__ import annotations

import os
from datetime import date

import schemathesis
from schemathesis.generation import GenerationMode

REAL_CURSOR_VARIABLE = "SCHEMATHESIS_CURSOR"


def _day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _in_order(container: dict) -> None:
    start, end = _day(container.get("start_date")), _day(container.get("end_date"))
    if start and end and start > end:
        container["start_date"], container["end_date"] = container["end_date"], container["start_date"]


@schemathesis.hook
def map_case(ctx, case):
    """Every phase (examples, coverage, fuzzing, stateful) passes its cases through here."""
    if isinstance(case.body, dict) and isinstance(case.body.get("filters"), dict):
        _in_order(case.body["filters"])
    if isinstance(case.body, dict) and _generated_valid(case):
        _first_format(case.body)
        if isinstance(case.body.get("destinations"), list):
            case.body.pop("destinations")
    if isinstance(case.query, dict) and case.operation.path.endswith("/history/"):
        _history_query(case.query)
    return case


def _generated_valid(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode is GenerationMode.POSITIVE


def _first_format(body: dict) -> None:
    formats, fmt = body.get("formats"), body.get("format")
    if isinstance(fmt, str) and isinstance(formats, list) and formats and isinstance(formats[0], str):
        body["format"] = formats[0]


def _history_query(query: dict) -> None:
    _in_order(query)
    cursor = query.get("cursor")
    if isinstance(cursor, str) and cursor.strip() and len(cursor) <= 200:
        real = os.environ.get(REAL_CURSOR_VARIABLE)
        if real:
            query["cursor"] = real
        else:
            query.pop("cursor")
    if query.get("cursor") and "page" in query:
        # Not both: keep whichever was generated invalid on purpose (else the real cursor).
        query.pop("cursor" if not _valid_page(query["page"]) else "page")


def _valid_page(value: object) -> bool:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 999_999_999
