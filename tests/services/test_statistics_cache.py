"""A worker's statistics cache: reused only while the business's kept history counts are unchanged
and for at most STATISTICS_CACHE_SECONDS; never shared between businesses."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import event, update

from dashboard.extensions import db
from dashboard.models import ExportHistory
from dashboard.services import statistics as stats_module
from dashboard.services.statistics import average_file_size_by_format, forget_cached_statistics, statistics
from tests.services.service_helpers import add_run


@pytest.fixture
def cached(app):
    app.config["STATISTICS_CACHE_SECONDS"] = 30
    forget_cached_statistics()
    yield
    app.config["STATISTICS_CACHE_SECONDS"] = 0
    forget_cached_statistics()


@pytest.fixture
def run_reads():
    """How many statements read export_history itself (not its kept counts)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM export_history " in statement or "FROM export_history\n" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_unchanged_counts_reuse_the_figures_and_a_new_run_shows_at_once(cached, shop, run_reads):
    add_run(shop.business, file_size=2 * 1024 * 1024)
    first = statistics(shop.business)
    reads = len(run_reads)
    assert reads >= 2 and first["total_exports"] == 1
    assert statistics(shop.business) == first
    assert average_file_size_by_format(shop.business)["csv"] == pytest.approx(2.0)
    assert len(run_reads) == reads  # answered from the cache: no read of the runs

    add_run(shop.business, status="FAILED")
    after = statistics(shop.business)
    assert after["total_exports"] == 2 and after["failed_exports"] == 1
    assert len(run_reads) > reads


def test_a_status_change_shows_at_once(cached, shop):
    run = add_run(shop.business, status="PROCESSING")
    assert statistics(shop.business)["successful_exports"] == 0
    db.session.execute(update(ExportHistory).where(ExportHistory.id == run.id).values(status="COMPLETED"))
    db.session.commit()
    assert statistics(shop.business)["successful_exports"] == 1


def test_figures_expire(cached, shop, monkeypatch, run_reads):
    add_run(shop.business)
    statistics(shop.business)
    reads = len(run_reads)
    clock = stats_module.time_module.monotonic() + 31
    monkeypatch.setattr(stats_module.time_module, "monotonic", lambda: clock)
    statistics(shop.business)
    assert len(run_reads) > reads


def test_a_caller_changing_its_copy_does_not_change_the_cache(cached, shop):
    add_run(shop.business)
    figures = statistics(shop.business)
    figures["total_exports"] = 999
    figures["daily"].clear()
    again = statistics(shop.business)
    assert again["total_exports"] == 1 and len(again["daily"]) == 30


def test_businesses_never_share_figures(cached, shop, other_shop):
    add_run(shop.business)
    add_run(shop.business)
    add_run(other_shop.business, status="FAILED")
    assert statistics(shop.business)["total_exports"] == 2
    other = statistics(other_shop.business)
    assert other["total_exports"] == 1 and other["failed_exports"] == 1


def test_the_cache_is_bounded(cached, shop, other_shop, monkeypatch):
    monkeypatch.setattr(stats_module._StatisticsCache, "MAX_ENTRIES", 1)
    add_run(shop.business)
    statistics(shop.business)
    statistics(other_shop.business)
    assert len(stats_module._CACHE._entries) == 1


def test_explicit_now_or_since_is_never_cached(cached, shop, run_reads):
    from datetime import UTC, datetime

    add_run(shop.business)
    statistics(shop.business)
    reads = len(run_reads)
    statistics(shop.business, now=datetime.now(UTC))
    assert len(run_reads) > reads


def test_a_caller_changing_its_figures_does_not_change_the_cached_ones(cached, shop):
    add_run(shop.business)
    mine = statistics(shop.business)
    mine["total_exports"] = 99
    mine["by_type"]["SALES"]["total"] = 99
    mine["daily"][-1]["total"] = 99
    again = statistics(shop.business)
    assert again["total_exports"] == 1
    assert again["by_type"]["SALES"]["total"] == 1 and again["daily"][-1]["total"] == 1


def _figures(label):
    return ({"label": label}, {})


def _ask_together(cache, askers, compute, snapshot=("counts",), business_id=uuid.UUID(int=1)):
    """`askers` threads ask at once; their answers."""
    answers, start = [], threading.Barrier(askers)

    def ask():
        start.wait()
        try:
            answers.append(cache.get(business_id, snapshot, 30, compute))
        except RuntimeError:
            pass  # that request's error page

    threads = [threading.Thread(target=ask) for _ in range(askers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


def _slow_compute(calls: list, fail_first: bool = False):
    """A computation long enough for every asker to arrive while it runs, counting its calls."""
    lock = threading.Lock()

    def compute():
        with lock:
            calls.append(1)
            first = len(calls) == 1
        time.sleep(0.2)
        if fail_first and first:
            raise RuntimeError("the database went away")
        return _figures("computed")

    return compute


def test_threads_missing_together_compute_once():
    cache, calls = stats_module._StatisticsCache(), []
    answers = _ask_together(cache, 6, _slow_compute(calls))
    assert answers == [_figures("computed")] * 6
    assert len(calls) == 1


def test_a_failed_leader_leaves_the_others_to_compute():
    cache, calls = stats_module._StatisticsCache(), []
    answers = _ask_together(cache, 3, _slow_compute(calls, fail_first=True))
    # The leader's request fails (it answers nothing here); the two waiting compute for themselves.
    assert answers == [_figures("computed")] * 2
    assert len(calls) == 3
    assert not cache._flights


def test_other_counts_are_not_answered_by_a_flight_for_older_ones():
    cache = stats_module._StatisticsCache()
    business_id, started = uuid.UUID(int=2), threading.Event()

    def slow_old():
        started.set()
        time.sleep(0.3)
        return _figures("old counts")

    old = threading.Thread(target=lambda: cache.get(business_id, ("old",), 30, slow_old))
    old.start()
    started.wait(5)
    assert cache.get(business_id, ("new",), 30, lambda: _figures("new counts")) == _figures("new counts")
    old.join(5)
