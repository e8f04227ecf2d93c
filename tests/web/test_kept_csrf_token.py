"""The pages' CSRF token is signed once a session and process (core/csrf_tokens.py): every page of
a session carries the same token, it is still accepted, another session gets its own, and with a
time limit set each page signs its own as Flask-WTF does."""

from __future__ import annotations

import itertools
import re
import time

import flask_wtf.csrf
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from dashboard.core import csrf_tokens
from dashboard.extensions import db
from dashboard.models import Business, Membership, User
from tests.conftest import PASSWORD


def _page_tokens(client, url: str = "/history/") -> set[str]:
    body = client.get(url).get_data(as_text=True)
    found = set(re.findall(r'"X-CSRFToken": "([^"]+)"', body))
    found |= set(re.findall(r'name="csrf_token" value="([^"]+)"', body))
    return found


@pytest.fixture
def careful(app_factory):
    """An app with CSRF on, two people of one business, each signed in through the login form."""
    application = app_factory(WTF_CSRF_ENABLED=True)
    with application.app_context():
        business = Business(name="Careful Shop", timezone="UTC")
        people = [User(email=f"{name}@example.com", name=name) for name in ("carla", "cody")]
        for person in people:
            person.set_password(PASSWORD)
            db.session.add(Membership(user=person, business=business, role="owner"))
        db.session.commit()
        clients = []
        for person in people:
            client = application.test_client()
            page = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            signed_in = client.post(
                "/login", data={"email": person.email, "password": PASSWORD, "csrf_token": token}
            )
            assert signed_in.status_code == 302
            clients.append(client)
        yield application, clients


@pytest.fixture
def ticking_clock(monkeypatch):
    """Every CSRF signing a second after the one before: a token signed again is another token
    (the test passed by luck when both signings fell within one second)."""
    seconds = itertools.count(int(time.time()))

    class TickingSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return next(seconds)

    class TickingSerializer(URLSafeTimedSerializer):
        default_signer = TickingSigner

    monkeypatch.setattr(flask_wtf.csrf, "URLSafeTimedSerializer", TickingSerializer)


def test_a_session_keeps_its_token_and_it_is_accepted(careful, ticking_clock):
    application, (carla, cody) = careful
    with application.app_context():
        first = _page_tokens(carla)
        assert len(first) == 1  # the page's htmx header and its forms
        hits = csrf_tokens._SIGNED_TOKENS.hits
        assert _page_tokens(carla) == first and _page_tokens(carla, "/schedules/") == first
        assert csrf_tokens._SIGNED_TOKENS.hits > hits  # signed once, then kept
        assert _page_tokens(cody).isdisjoint(first)  # another session, another token
        (token,) = first
        refused = carla.post("/logout")
        assert refused.status_code == 400
        accepted = carla.post("/logout", data={"csrf_token": token})
        assert accepted.status_code in (302, 303)


def test_with_a_time_limit_every_page_signs_its_own(careful):
    application, (carla, _) = careful
    application.config["WTF_CSRF_TIME_LIMIT"] = 3600
    with application.app_context():
        hits, misses = csrf_tokens._SIGNED_TOKENS.hits, csrf_tokens._SIGNED_TOKENS.misses
        for _ in range(2):
            assert len(_page_tokens(carla)) == 1
        assert (csrf_tokens._SIGNED_TOKENS.hits, csrf_tokens._SIGNED_TOKENS.misses) == (hits, misses)
