"""Sign-in throttling (issue 15, item 5): keyed on (account, client address), with higher ceilings
per account and per address that slow attempts down rather than refuse them.

So a stranger guessing at someone's account cannot lock that person out (they sign in from their
own address, at most a little slower), and one office address shared by many people does not lock
out everyone behind it. Run as production runs it: two app instances counting in one Redis.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, TEST_DATABASE_URL, Factory
from tests.security.security_helpers import normalized

REDIS_URL = "redis://127.0.0.1:6379/12"


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")


@pytest.fixture
def waits(monkeypatch):
    """The slow-downs the throttle asked for, instead of sleeping through them."""
    asked: list[float] = []
    try:
        import dashboard.auth.throttle as throttle
    except ImportError:  # the code before issue 15 (these tests were first run against it)
        return asked
    monkeypatch.setattr(throttle, "sleep", asked.append)
    return asked


@pytest.fixture
def workers(app_factory, tmp_path: Path, request):
    """Two app instances sharing one database and one Redis (two gunicorn workers)."""
    _redis_or_skip()
    prefix = f"auth-{uuid.uuid4().hex[:8]}"
    overrides = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_RATE_LIMIT": "10 per 5 minutes",  # the default
        "LOGIN_ACCOUNT_RATE_LIMIT": "30 per 5 minutes",
        "LOGIN_ADDRESS_RATE_LIMIT": "100 per 5 minutes",
        "LOGIN_SLOWDOWN_SECONDS": 2,
    }
    overrides.update(getattr(request, "param", {}))
    if not TEST_DATABASE_URL:
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first = app_factory(**overrides)
    second = app_factory(**overrides)
    with first.app_context():
        factory = Factory(first)
        business = factory.business("Office")
        people = [factory.user(business, email=f"person{n}@office.example.com").email for n in range(3)]
    yield first, second, people
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)


def _attempt(app, email: str, password: str, ip: str) -> int:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client.post("/login", data={"email": email, "password": password}).status_code


def test_eleven_wrong_passwords_lock_out_neither_the_person_nor_the_office(workers, waits):
    """The finding: eleven wrong passwords for one account from one address locked the real user
    out from every other address, and every account out from that address."""
    first, second, (victim, colleague, _) = workers
    office, home = "192.0.2.10", "198.51.100.7"
    codes = [_attempt((first, second)[n % 2], victim, "wrong-password", office) for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    # The person, from their own address, signs in (both workers).
    assert _attempt(first, victim, PASSWORD, home) == 302
    assert _attempt(second, victim, PASSWORD, "198.51.100.8") == 302
    # Everyone else behind the office address signs in too.
    assert _attempt(second, colleague, PASSWORD, office) == 302
    # Only the pair (victim, office address) is refused, even with the right password, on both.
    assert _attempt(first, victim, PASSWORD, office) == 429
    assert _attempt(second, victim, PASSWORD, office) == 429
    assert waits == []  # nothing came near the ceilings


@pytest.mark.parametrize("workers", [{"LOGIN_ACCOUNT_RATE_LIMIT": "4 per 5 minutes"}], indirect=True)
def test_many_addresses_guessing_one_account_slow_it_down_but_never_lock_it(workers, waits):
    first, second, (victim, other, _) = workers
    for n in range(4):
        assert _attempt((first, second)[n % 2], victim, "wrong-password", f"203.0.113.{n + 1}") == 401
    assert waits == []
    # Over the account's ceiling: every attempt now waits LOGIN_SLOWDOWN_SECONDS first...
    assert _attempt(first, victim, "wrong-password", "203.0.113.50") == 401
    assert waits == [2]
    # ...and the right password still signs the person in (slowed, not refused), on either worker.
    assert _attempt(second, victim, PASSWORD, "198.51.100.7") == 302
    assert waits == [2, 2]
    # Another account is not slowed.
    assert _attempt(first, other, PASSWORD, "203.0.113.50") == 302
    assert waits == [2, 2]


@pytest.mark.parametrize("workers", [{"LOGIN_ADDRESS_RATE_LIMIT": "5 per 5 minutes"}], indirect=True)
def test_one_address_guessing_many_accounts_is_slowed_not_blocked(workers, waits):
    first, second, (one, two, three) = workers
    office = "192.0.2.20"
    for n, email in enumerate([one, "nobody-1@example.com", two, "nobody-2@example.com", "x@example.com"]):
        assert _attempt((first, second)[n % 2], email, "wrong-password", office) == 401
    assert waits == []
    # The address is over its ceiling: slowed for any account, yet nobody is refused.
    assert _attempt(first, three, PASSWORD, office) == 302
    assert _attempt(second, "fresh@example.com", "wrong", office) == 401
    assert waits == [2, 2]
    # Another address is not slowed.
    assert _attempt(first, one, PASSWORD, "192.0.2.21") == 302
    assert waits == [2, 2]


def test_a_refused_pair_says_when_to_try_again_and_looks_the_same_for_unknown_accounts(workers, waits):
    first, _, (victim, _, _) = workers
    for email in (victim, "no-such-person@example.com"):
        for _ in range(10):
            _attempt(first, email, "wrong-password", "192.0.2.30")
    answers = []
    for email in (victim, "no-such-person@example.com"):
        client = first.test_client()
        client.environ_base["REMOTE_ADDR"] = "192.0.2.30"
        response = client.post("/login", data={"email": email, "password": "x"})
        assert response.status_code == 429
        assert 0 < int(response.headers["Retry-After"]) <= 300
        assert "Too many" in response.get_data(as_text=True)
        answers.append(normalized(response, email))
    assert answers[0] == answers[1]


def test_throttling_off_counts_nothing(app_factory, waits):
    app = app_factory(RATELIMIT_ENABLED=False)
    with app.app_context():
        email = Factory(app).user(Factory(app).business()).email
    for _ in range(12):
        assert _attempt(app, email, "wrong-password", "192.0.2.40") == 401
    assert _attempt(app, email, PASSWORD, "192.0.2.40") == 302
    assert waits == []


def test_without_its_redis_sign_in_still_works_and_is_counted_in_the_process(app_factory, waits):
    app = app_factory(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",  # nothing listens there
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_KEY_PREFIX=f"down-{uuid.uuid4().hex[:8]}",
        LOGIN_RATE_LIMIT="3 per minute",
    )
    with app.app_context():
        email = Factory(app).user(Factory(app).business()).email
    assert [_attempt(app, email, "wrong-password", "192.0.2.50") for _ in range(4)] == [401, 401, 401, 429]
    assert _attempt(app, email, PASSWORD, "192.0.2.51") == 302
