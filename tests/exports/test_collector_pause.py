"""The cyclic collector held back while an export batch is read, converted and written
(dashboard/core/collector.py, issue 21): the batch's rows die together by reference counting, so
the collector's passes over them found nothing and cost a tenth of a CSV export."""

from __future__ import annotations

import gc
from contextlib import nullcontext

import pytest

from dashboard import demo
from dashboard.core.collector import collector_paused
from dashboard.exports import service
from dashboard.exports.service import generate_export
from dashboard.extensions import db
from dashboard.models.pos import Business

ALL_TIME = {"start_date": "2000-01-01", "end_date": "2100-12-31"}


def test_collector_paused_restores_what_it_found():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("an export's error")
    assert gc.isenabled()
    gc.disable()  # someone else's pause (another thread's batch): not ended by this one
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def _collections_during(callable_) -> int:
    started = []

    def count(phase, info):
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(count)
    try:
        callable_()
    finally:
        gc.callbacks.remove(count)
    return len(started)


@pytest.mark.parametrize("fmt", ["csv", "excel"])
def test_an_export_runs_about_one_collection_a_batch(app, tmp_path, monkeypatch, fmt):
    demo.seed_business("Collector Café", sales=8000)
    db.session.commit()
    business = db.session.query(Business).filter_by(name="Collector Café").one()
    generate_export(business, "SALES", fmt, ALL_TIME, out_dir=tmp_path)  # first-time work aside

    def export():
        result = generate_export(business, "SALES", fmt, ALL_TIME, out_dir=tmp_path)
        assert result.record_count == 8000

    paused = _collections_during(export)
    # The same export with the pause made a no-op: a pass every ~700 new objects, several a batch.
    monkeypatch.setattr(service, "collector_paused", nullcontext)
    unpaused = _collections_during(export)
    batches = 8000 // service.BATCH_SIZE
    assert paused <= batches + 4, (paused, unpaused)
    assert unpaused >= 2 * paused, (paused, unpaused)
