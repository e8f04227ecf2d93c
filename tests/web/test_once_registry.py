"""The double-submit guard (`dashboard.web.forms.OnceRegistry`) is bounded (issue 15, item 9): it
kept one lock per form nonce that failed to create (or that a client simply made up) forever, so a
client posting fresh nonces to a form that is refused grew the process's memory without end."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from dashboard.core.errors import ValidationError
from dashboard.web.forms import OnceRegistry


def _refused():
    raise ValidationError({"name": ["Enter a name for the schedule."]})


def test_failed_creates_leave_no_lock_behind(app):
    registry = OnceRegistry()
    with app.test_request_context("/schedules/new", method="POST"):
        for _ in range(3000):
            with pytest.raises(ValidationError):
                registry.run(str(uuid.uuid4()), _refused)
    assert len(registry._locks) == 0
    assert len(registry._done) == 0


def test_successful_creates_are_remembered_up_to_the_cap(app):
    registry = OnceRegistry()
    registry.KEEP = 50
    with app.test_request_context("/schedules/new", method="POST"):
        for n in range(200):
            assert registry.run(str(uuid.uuid4()), lambda n=n: f"id-{n}") == (f"id-{n}", True)
    assert len(registry._done) == 50
    assert len(registry._locks) == 0


def test_remembered_results_expire(app, monkeypatch):
    registry = OnceRegistry()
    nonce = str(uuid.uuid4())
    with app.test_request_context("/schedules/new", method="POST"):
        assert registry.run(nonce, lambda: "first") == ("first", True)
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + registry.TTL_SECONDS + 1)
    with app.test_request_context("/schedules/new", method="POST"):
        registry.run(str(uuid.uuid4()), lambda: "other")  # any use sweeps what expired
    assert nonce not in registry._done


def test_concurrent_duplicates_still_create_once(app):
    registry = OnceRegistry()
    nonce = str(uuid.uuid4())
    created: list[int] = []
    started = threading.Barrier(8)

    def create() -> str:
        created.append(1)
        time.sleep(0.05)  # the first one is still working while the others arrive
        return "the-one"

    results: list[tuple[str, bool]] = []

    def submit() -> None:
        with app.test_request_context("/schedules/new", method="POST"):
            started.wait()
            results.append(registry.run(nonce, create))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert sorted(results) == [("the-one", False)] * 7 + [("the-one", True)]
    assert len(registry._locks) == 0
