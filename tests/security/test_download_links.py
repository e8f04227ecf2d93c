"""Signed download links (`/d/<token>` and `/d/<token>/file`), attacked the way a link holder could:
altered, truncated, re-signed for another record with a guessed key, replayed after expiry, used
after the file was cleaned up. None of them gets the file, each gets a page in plain words, nothing
is written (no audit entry for a refused link), and no answer tells whether another business's
record exists."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from dashboard.extensions import db
from dashboard.storage.links import SALT, make_download_token
from tests.security.security_helpers import (
    CONTENT,
    MEASURED,
    answer_diff,
    db_snapshot,
    login,
    normalized,
    snapshot_diff,
)

PAGES = ("/d/{}", "/d/{}/file")


def _sign(payload: dict, key: str, issued_at: datetime | None = None) -> str:
    """A link token built outside the app: our own serializer, any key, any issue time."""
    if issued_at is None:
        return URLSafeTimedSerializer(key, salt=SALT).dumps(payload)
    stamp = int(issued_at.timestamp())

    class Frozen(TimestampSigner):  # time stands still at `issued_at`
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(key, salt=SALT, signer=Frozen).dumps(payload)


def _payload(run) -> dict:
    return {"h": str(run.id), "b": str(run.business_id)}


def _flip(token: str, index: int) -> str:
    """The token with one character changed in the top bit of its 6 (a change in the low bits of
    a base64 group's last character can fall in its padding bits and decode to the same bytes)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    char = token[index]
    if char == ".":
        return token[:index] + "A" + token[index + 1 :]
    replacement = alphabet[alphabet.index(char) ^ 32]
    return token[:index] + replacement + token[index + 1 :]


def _refused(response, run, status: int, link_page: bool = True) -> bool:
    """No file, the status asked for, and (for the link's own page) kept out of caches. A "token"
    holding a slash never reaches the link's route: the app's plain 404 page answers it."""
    body = response.get_data()
    return (
        response.status_code == status
        and response.mimetype == "text/html"
        and "attachment" not in response.headers.get("Content-Disposition", "")
        and CONTENT not in body
        and (not link_page or "no-store" in response.headers.get("Cache-Control", ""))
    )


def test_altered_truncated_and_forged_links_answer_the_same_404_without_the_file(app, world):
    a, b = world.a, world.b
    genuine = make_download_token(a.run)
    client = app.test_client()
    key = app.config["SECRET_KEY"]
    tampered: dict[str, list[str]] = {
        # every single character of the genuine token changed, one at a time
        "character changed": [_flip(genuine, i) for i in range(len(genuine))],
        "truncated": [genuine[:n] for n in (1, 10, len(genuine) // 2, len(genuine) - 1)],
        "extended": [genuine + "A", genuine + ".x", "x" + genuine],
        # the payload of another record with the signature kept
        "payload swapped": [
            base64.urlsafe_b64encode(f'{{"h":"{b.run.id}","b":"{b.run.business_id}"}}'.encode())
            .decode()
            .rstrip("=")
            + genuine[genuine.index(".") :]
        ],
        # A's record, B's record and a missing one re-signed with guessed keys
        "re-signed with a wrong key": [
            _sign(_payload(run), guess)
            for run in (a.run, b.run)
            for guess in ("", "dev-not-secret-change-me", "test-secret-key-x", key[::-1])
        ]
        + [_sign({"h": str(uuid.uuid4()), "b": str(a.business.id)}, "guess")],
        # signed with the right key but another salt (what a session cookie or a CSRF token is)
        "another salt": [URLSafeTimedSerializer(key, salt="cookie-session").dumps(_payload(a.run))],
        "junk": ["", "%00", "..%2f..%2fetc%2fpasswd", "a" * 2000, "<script>alert(1)</script>"],
    }
    random_token = _sign({"h": str(uuid.uuid4()), "b": str(uuid.uuid4())}, "some other key")
    before = db_snapshot()
    tried = 0
    for page in PAGES:
        reference = client.get(page.format(random_token))
        assert _refused(reference, a.run, 404)
        for category, tokens in tampered.items():
            for token in tokens:
                if not token:
                    continue
                response = client.get(page.format(token))
                routed = "/" not in unquote(token)
                assert _refused(response, a.run, 404, link_page=routed), (
                    category,
                    token,
                    response.status_code,
                )
                text = response.get_data(as_text=True)
                assert a.run.file_name not in text and a.business.name not in text, (category, token)
                if len(token) >= 20 and "/" not in token and "%" not in token:
                    # (a short token would be masked wherever its letters occur in the page)
                    assert normalized(response, token) == normalized(reference, random_token), (
                        category,
                        answer_diff(normalized(response, token), normalized(reference, random_token)),
                    )
                tried += 1
    assert not snapshot_diff(before, db_snapshot()), "a refused link wrote something"
    # The genuine link still works (so the refusals above are refusals).
    response = client.get(f"/d/{genuine}/file")
    assert response.status_code == 200 and response.get_data() == CONTENT
    MEASURED["signed links"] = {"tampered tokens tried": tried}


def test_a_record_of_another_business_and_a_missing_record_answer_alike(app, world):
    """Even with the key (an insider's forgery), naming A's run with B's business id finds nothing,
    and answers exactly as a record that does not exist."""
    a, b = world.a, world.b
    key = app.config["SECRET_KEY"]
    client = login(app.test_client(), b.owner.email)
    mixed = _sign({"h": str(a.run.id), "b": str(b.business.id)}, key)
    missing = _sign({"h": str(uuid.uuid4()), "b": str(b.business.id)}, key)
    for page in PAGES:
        first, second = client.get(page.format(mixed)), client.get(page.format(missing))
        assert first.status_code == 404 and CONTENT not in first.get_data()
        assert normalized(first, mixed) == normalized(second, missing), answer_diff(
            normalized(first, mixed), normalized(second, missing)
        )
        assert a.run.file_name not in first.get_data(as_text=True)


@pytest.mark.parametrize("page", PAGES)
def test_an_expired_link_shows_a_clear_page_and_no_file(app, world, page):
    a = world.a
    ttl = app.config["DOWNLOAD_LINK_TTL_DAYS"]
    now = datetime.now(UTC)
    key = app.config["SECRET_KEY"]
    client = app.test_client()
    before = db_snapshot()
    for issued in (now - timedelta(days=ttl, seconds=5), now - timedelta(days=ttl * 10)):
        response = client.get(page.format(_sign(_payload(a.run), key, issued)))
        assert _refused(response, a.run, 410), response.status_code
        assert "has expired" in response.get_data(as_text=True)
    assert not snapshot_diff(before, db_snapshot())
    # An expired token altered is just invalid: 404, not "expired" (the signature is checked first).
    expired = _sign(_payload(a.run), key, now - timedelta(days=ttl + 1))
    assert client.get(page.format(_flip(expired, len(expired) - 3))).status_code == 404
    # A day before expiry the same link still works.
    fresh = _sign(_payload(a.run), key, now - timedelta(days=ttl - 1))
    assert client.get(page.format(fresh)).status_code == 200
    # A link stamped a year ahead (to outlive its TTL) is refused too: itsdangerous rejects a
    # negative age.
    future = _sign(_payload(a.run), key, now + timedelta(days=365))
    assert _refused(client.get(page.format(future)), a.run, 410)


def test_a_link_used_after_cleanup_shows_a_clear_page_and_no_file(app, world):
    a = world.a
    token = make_download_token(a.run)
    client = app.test_client()
    assert client.get(f"/d/{token}/file").get_data() == CONTENT
    # The retention job runs (files older than 0 days go), as `flask exports cleanup` does.
    result = app.test_cli_runner().invoke(args=["exports", "cleanup", "--days", "0"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(type(a.run), a.run.id).file_path == ""
    before = db_snapshot()
    for page in PAGES:
        response = client.get(page.format(token))
        assert _refused(response, a.run, 410)
        assert "no longer available" in response.get_data(as_text=True)
    assert not snapshot_diff(before, db_snapshot())


def test_a_link_whose_file_vanished_from_storage_shows_the_clean_page(app, world):
    """The record still names a file, but the file is gone (deleted by hand, lost bucket)."""
    from dashboard.storage import get_storage

    a = world.a
    token = make_download_token(a.run)
    get_storage().delete_export_file(a.run.file_path)
    response = app.test_client().get(f"/d/{token}/file")
    assert _refused(response, a.run, 410)


def test_link_pages_are_not_cached_indexed_or_leaked_through_referers(app, world):
    response = app.test_client().get(f"/d/{make_download_token(world.a.run)}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]
