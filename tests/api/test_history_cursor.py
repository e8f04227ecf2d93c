"""History lists walked by cursor: the next/previous links carry a (created_at, id) position, so a
deep page costs what page 1 does; `?page=N` keeps working as the contract says."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete

from dashboard.extensions import db
from dashboard.models import ExportHistory
from dashboard.services.keyset import Cursor, InvalidCursor, decode_cursor, encode_cursor
from tests.api.conftest import BASE, make_history

HISTORY = f"{BASE}/history/"


def _runs(tenant, n: int, *, same_time: bool = False, **fields) -> list[ExportHistory]:
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    return [
        make_history(
            tenant.business,
            tenant.owner,
            created_at=start if same_time else start + timedelta(minutes=i),
            **fields,
        )
        for i in range(n)
    ]


def _walk(api, url: str, link: str) -> tuple[list[str], list[dict]]:
    ids, bodies = [], []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        bodies.append(body)
        ids.extend(r["id"] for r in body["results"])
        url = body[link]
    return ids, bodies


@pytest.mark.parametrize("same_time", [False, True], ids=["distinct-times", "one-timestamp"])
def test_walking_next_then_previous_visits_every_run_once_in_order(owner_api, tenant, same_time):
    runs = _runs(tenant, 11, same_time=same_time)
    expected = [str(r.id) for r in sorted(runs, key=lambda r: (r.created_at, str(r.id)), reverse=True)]
    by_page = []
    for page in (1, 2, 3):
        by_page += [
            r["id"] for r in owner_api.get(f"{HISTORY}?page_size=4&page={page}").get_json()["results"]
        ]
    assert by_page == expected

    forward, bodies = _walk(owner_api, f"{HISTORY}?page_size=4", "next")
    assert forward == expected
    assert [len(b["results"]) for b in bodies] == [4, 4, 3]
    assert all(b["count"] == 11 for b in bodies)
    assert bodies[0]["previous"] is None and bodies[-1]["next"] is None

    backward, back_bodies = _walk(owner_api, bodies[-1]["previous"], "previous")
    assert backward == expected[4:8] + expected[0:4]
    assert back_bodies[-1]["previous"] is None


def test_the_links_keep_filters_and_page_size_and_drop_page(owner_api, tenant):
    _runs(tenant, 3, status="FAILED")
    _runs(tenant, 5, status="COMPLETED")
    body = owner_api.get(f"{HISTORY}?status=COMPLETED&page_size=2&page=2").get_json()
    for link in (body["next"], body["previous"]):
        query = parse_qs(urlsplit(link).query)
        assert set(query) == {"status", "page_size", "cursor"}
        assert query["status"] == ["COMPLETED"] and query["page_size"] == ["2"]
    ids, _ = _walk(owner_api, body["next"], "next")
    assert len(ids) == 1
    first, _ = _walk(owner_api, body["previous"], "previous")
    assert len(first) == 2
    statuses = {
        r["status"]
        for b in _walk(owner_api, f"{HISTORY}?status=COMPLETED&page_size=2", "next")[1]
        for r in b["results"]
    }
    assert statuses == {"COMPLETED"}


def test_runs_added_while_walking_are_neither_repeated_nor_skipped(owner_api, tenant):
    runs = _runs(tenant, 6)
    body = owner_api.get(f"{HISTORY}?page_size=3").get_json()
    seen = [r["id"] for r in body["results"]]
    # A new run arrives at the top: an OFFSET page 2 would repeat a row; the cursor does not.
    make_history(tenant.business, tenant.owner, created_at=datetime(2026, 12, 1, tzinfo=UTC))
    second = owner_api.get(body["next"]).get_json()
    seen += [r["id"] for r in second["results"]]
    assert sorted(seen) == sorted(str(r.id) for r in runs) and len(set(seen)) == 6
    assert second["next"] is None
    # Going back shows the three runs before the second page, then (one more step) a whole first
    # page headed by the new run, with nothing newer.
    back = owner_api.get(second["previous"]).get_json()
    assert [r["id"] for r in back["results"]] == seen[:3] and back["previous"] is not None
    top = owner_api.get(back["previous"]).get_json()
    assert len(top["results"]) == 3 and top["previous"] is None
    assert top["results"][0]["created_at"] == "2026-12-01T00:00:00Z"


def test_a_cursor_whose_runs_were_deleted_answers_an_empty_page_with_a_way_back(owner_api, tenant):
    runs = _runs(tenant, 5)
    body = owner_api.get(f"{HISTORY}?page_size=2").get_json()
    oldest_three = [r.id for r in sorted(runs, key=lambda r: r.created_at)[:3]]
    db.session.execute(delete(ExportHistory).where(ExportHistory.id.in_(oldest_three)))
    db.session.commit()
    after = owner_api.get(body["next"]).get_json()
    assert after["results"] == [] and after["next"] is None
    assert after["previous"] is not None
    back = owner_api.get(after["previous"]).get_json()
    assert len(back["results"]) == 2


def test_a_cursor_never_reaches_another_business(owner_api, tenant, other_tenant):
    foreign = make_history(
        other_tenant.business, other_tenant.owner, created_at=datetime(2026, 11, 2, tzinfo=UTC)
    )
    mine = _runs(tenant, 3)
    cursor = encode_cursor(Cursor(foreign.created_at + timedelta(days=1), foreign.id, older=True, page=2))
    body = owner_api.get(f"{HISTORY}?cursor={cursor}").get_json()
    assert sorted(r["id"] for r in body["results"]) == sorted(str(r.id) for r in mine)


def _token(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "x",
        "%%%",
        "A" * 201,
        _token([]),
        _token({"a": 1}),
        _token(["2026-01-01T00:00:00.000000", "zz", "o", 1]),
        _token(["not a time", "0" * 32, "o", 1]),
        _token(["2026-01-01T00:00:00.000000", "0" * 32, "sideways", 1]),
        _token(["2026-01-01T00:00:00.000000", "0" * 32, "o", 0]),
        _token(["2026-01-01T00:00:00.000000", "0" * 32, "o", True]),
        _token(["2026-01-01T00:00:00.000000", "0" * 32, "o", "2"]),
        _token(["2026-01-01T00:00:00.000000", "0" * 32, "o", 10**12]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_bad_cursor_is_a_400_naming_it(owner_api, tenant, cursor):
    response = owner_api.get(HISTORY, query_string={"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.get_json()["errors"]


def test_cursor_and_page_together_is_a_400(owner_api, tenant):
    _runs(tenant, 3)
    body = owner_api.get(f"{HISTORY}?page_size=1").get_json()
    response = owner_api.get(body["next"] + "&page=2")
    assert response.status_code == 400
    assert response.get_json()["errors"]["cursor"] == ["Send either page or cursor, not both."]


def test_the_cursor_round_trips_and_rejects_what_it_did_not_make():
    cursor = Cursor(datetime(2026, 3, 8, 7, 30, 0, 123456, tzinfo=UTC), uuid.UUID(int=7), True, 12)
    assert decode_cursor(encode_cursor(cursor)) == cursor
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(cursor)[:-3])


def test_openapi_documents_the_cursor(client):
    document = client.get("/api/openapi.json").get_json()
    parameters = document["paths"]["/api/reports/automation/history/"]["get"]["parameters"]
    assert any(p["name"] == "cursor" and p["in"] == "query" for p in parameters)


def test_a_deep_page_by_cursor_reads_only_its_rows(app, owner_api, tenant):
    """A cursor page's statements carry no OFFSET: the database starts at the position."""
    from sqlalchemy import event

    _runs(tenant, 30)
    url = owner_api.get(f"{HISTORY}?page_size=5&page=4").get_json()["next"]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        body = owner_api.get(url).get_json()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(body["results"]) == 5
    reads = [(s, p) for s, p in statements if "FROM export_history " in s and "LIMIT" in s.upper()]
    assert reads and all("(export_history.created_at, export_history.id) <" in s for s, _ in reads)
    # SQLite renders "LIMIT ? OFFSET ?" with an offset of 0; PostgreSQL renders no OFFSET at all.
    for statement, parameters in reads:
        if "OFFSET" in statement.upper():
            assert list(parameters)[-1] == 0, statement


def test_an_empty_list_has_an_empty_first_page_and_no_second(owner_api, tenant):
    _runs(tenant, 2, status="COMPLETED")
    empty = owner_api.get(f"{HISTORY}?status=FAILED")
    assert empty.status_code == 200
    assert empty.get_json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert owner_api.get(f"{HISTORY}?status=FAILED&page=2").status_code == 404


def test_a_previous_link_whose_newer_runs_were_all_cleaned_up_leads_to_the_first_page(owner_api, tenant):
    runs = _runs(tenant, 8)
    first = owner_api.get(f"{HISTORY}?page_size=3").get_json()
    second = owner_api.get(first["next"]).get_json()
    assert second["previous"] is not None
    # Every run newer than the second page goes (as retention would take them, were they older).
    shown = {r["id"] for r in first["results"]}
    db.session.execute(
        delete(ExportHistory).where(ExportHistory.id.in_([r.id for r in runs if str(r.id) in shown]))
    )
    db.session.commit()
    again = owner_api.get(first["next"]).get_json()
    assert [r["id"] for r in again["results"]] == [r["id"] for r in second["results"]]
    back = owner_api.get(again["previous"])
    assert back.status_code == 200
    assert [r["id"] for r in back.get_json()["results"]] == [r["id"] for r in second["results"]][:3]
