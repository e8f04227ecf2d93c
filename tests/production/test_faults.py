"""Real faults against real processes: an instance SIGKILLed mid-export, PostgreSQL restarted under
running schedulers, the mail server down then up, S3 down for a while, and a full disk.

Each test says what must hold afterwards: a truthful record for every run, each occurrence run once
(retries are new records), nothing lost, no partial file ever served, no mail doubled.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.production.prodkit import (
    BIG_SALES,
    BIG_SHOP,
    OPS_HEADERS,
    READY_URL,
    SMALL_SHOP,
    ProdDatabase,
    S3Server,
    business_id,
    copy_template_to,
    insert_schedules,
    make_token,
    owner_id,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.nodb]  # nodb: they bring their own databases (conftest)

API = "/api/reports/automation"
# Every sale of the big shop: the seed's go back a few weeks, none are in the future.
ALL_SALES = {
    "start_date": "2000-01-01",
    "end_date": (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
}
# Small times so that faults resolve within seconds: stale after 4 s without a heartbeat, retries
# after ~1 s (x 2^(n-1)), the retry job every second, mail retried after a second.
FAST = {
    "EXPORT_STALE_SECONDS": "4",
    "EXPORT_RETRY_BASE_SECONDS": "1",
    "EXPORT_MAX_RETRIES": "3",
    "SCHEDULER_RETRY_SECONDS": "1",
    "MAIL_RETRY_BASE_SECONDS": "1",
    "MAIL_RETRY_MAX_SECONDS": "2",
    "MAIL_TIMEOUT": "5",
}


def history(database: ProdDatabase, where: str = "true", params: tuple = ()) -> list[dict]:
    rows = database.query(
        "SELECT id, schedule_id, occurrence_at, status, error_message, attempt, retry_of_id, file_path,"
        f" progress, record_count FROM export_history WHERE {where} ORDER BY created_at",
        params,
    )
    keys = (
        "id",
        "schedule_id",
        "occurrence_at",
        "status",
        "error_message",
        "attempt",
        "retry_of_id",
        "file_path",
        "progress",
        "record_count",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def s3_env(s3: S3Server, bucket: str) -> dict[str, str]:
    return {"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": s3.endpoint}


def now_utc() -> datetime:
    return datetime.now(UTC)


def assert_exactly_once(database: ProdDatabase) -> None:
    """One original (attempt 1) record per (schedule, occurrence); retries are linked records."""
    counts = database.query(
        "SELECT schedule_id, occurrence_at, count(*) FROM export_history"
        " WHERE occurrence_at IS NOT NULL GROUP BY 1, 2 HAVING count(*) <> 1"
    )
    assert counts == [], counts
    orphans = database.scalar("SELECT count(*) FROM export_history WHERE attempt > 1 AND retry_of_id IS NULL")
    assert orphans == 0


# -- SIGKILL mid-export --------------------------------------------------------------------------


def test_sigkill_mid_export_marks_it_interrupted_and_a_survivor_retries_it(
    prod_db, fleet, s3_server, s3_bucket
):
    env = fleet.env(prod_db.url, **FAST, **s3_env(s3_server, s3_bucket), EXPORT_WORKERS="1")
    victim, survivor = fleet.start(env, workers=1, wait=False), fleet.start(env, workers=2, wait=False)
    victim.wait_healthy()
    survivor.wait_healthy()
    # Freeze the survivor (SIGSTOP) so that the victim is the one that claims the run; it thaws
    # while the export is under way and must then leave it alone (its heartbeat is fresh).
    survivor.signal_group(signal.SIGSTOP)
    insert_schedules(
        prod_db,
        business_id(prod_db, BIG_SHOP),
        owner_id(prod_db),
        [now_utc() - timedelta(minutes=1)],
        export_type="SALES",
        fmt="excel",
        filters=ALL_SALES,
        prefix="big",
    )
    try:
        run = wait_for(
            lambda: next(
                (h for h in history(prod_db) if h["status"] == "PROCESSING" and h["progress"] > 0),
                None,
            ),
            40,
            0.05,
            "the big export to be PROCESSING with progress",
        )
    finally:
        survivor.signal_group(signal.SIGCONT)
    assert history(prod_db, "id = %s", (run["id"],))[0]["status"] == "PROCESSING", (
        "the export finished before the kill; make it bigger"
    )
    killed_at = time.monotonic()
    victim.kill()
    progress_at_kill = history(prod_db, "id = %s", (run["id"],))[0]["progress"]
    expected = prod_db.scalar(
        "SELECT count(*) FROM sales s JOIN businesses b ON b.id = s.business_id WHERE b.name = %s",
        (BIG_SHOP,),
    )

    # After EXPORT_STALE_SECONDS the survivor marks it FAILED "interrupted" and retries it.
    retry = wait_for(
        lambda: next(
            (h for h in history(prod_db, "retry_of_id = %s", (run["id"],)) if h["status"] == "COMPLETED"),
            None,
        ),
        90,
        0.25,
        "the retry to complete on the survivor",
    )
    recovered_in = time.monotonic() - killed_at
    original = history(prod_db, "id = %s", (run["id"],))[0]
    assert original["status"] == "FAILED" and "interrupted" in original["error_message"]
    assert original["file_path"] == ""
    assert retry["attempt"] == 2 and retry["record_count"] == expected
    assert_exactly_once(prod_db)
    assert len(history(prod_db)) == 2

    # No partial file: nothing in the bucket for the killed run; the retry's file is whole.
    keys = s3_server.keys(s3_bucket)
    assert not [k for k in keys if f"/{run['id']}_" in k], keys
    assert [k for k in keys if f"/{retry['id']}_" in k]
    token = make_token(prod_db, BIG_SHOP)
    headers = {"Authorization": f"Bearer {token}"}
    refused = requests.get(f"{survivor.url}{API}/history/{run['id']}/download/", headers=headers, timeout=10)
    assert refused.status_code == 409
    response = requests.get(
        f"{survivor.url}{API}/history/{retry['id']}/download/", headers=headers, timeout=30
    )
    assert response.status_code == 200
    stored = s3_server.client().get_object(
        Bucket=s3_bucket, Key=[k for k in keys if f"/{retry['id']}_" in k][0]
    )
    assert response.content == stored["Body"].read()
    assert len(response.content) == prod_db.scalar(
        "SELECT file_size FROM export_history WHERE id = %s", (retry["id"],)
    )
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.content), read_only=True)["Sales"]  # after "Summary"
    assert next(sheet.iter_rows(max_row=1, values_only=True))[0] == "Receipt"
    print(
        f"\nSIGKILL at progress {progress_at_kill}/{BIG_SALES}: FAILED {original['error_message']!r}, "
        f"retry attempt {retry['attempt']} COMPLETED {recovered_in:.1f}s after the kill"
    )


# -- graceful stop mid-export --------------------------------------------------------------------


def test_graceful_stop_hands_a_running_export_back_to_another_instance(prod_db, fleet, s3_server, s3_bucket):
    """SIGTERM (a deploy) with an export longer than GRACEFUL_TIMEOUT allows: the stopping worker
    puts the run back to PENDING with its claim withdrawn, and another instance runs it: the same
    record completes, nothing FAILED, one file."""
    env = fleet.env(prod_db.url, **FAST, **s3_env(s3_server, s3_bucket), EXPORT_WORKERS="1")
    # 3 s is all hand-back reserve (HANDBACK_RESERVE in gunicorn.conf.py): the running export gets
    # no time to finish, however fast the machine. With 4 s it had one second, and a 30,000-row
    # export sometimes finished in it (nothing was then handed back).
    stopping = fleet.start({**env, "GRACEFUL_TIMEOUT": "3"}, workers=1, wait=False)
    other = fleet.start(env, workers=1, wait=False)
    stopping.wait_healthy()
    other.wait_healthy()
    other.signal_group(signal.SIGSTOP)  # so that the instance we stop is the one that claims the run
    insert_schedules(
        prod_db,
        business_id(prod_db, BIG_SHOP),
        owner_id(prod_db),
        [now_utc() - timedelta(minutes=1)],
        export_type="SALES",
        fmt="excel",
        filters=ALL_SALES,
        prefix="deploy",
    )
    try:
        run = wait_for(
            lambda: next(
                (h for h in history(prod_db) if h["status"] == "PROCESSING" and h["progress"] > 0), None
            ),
            40,
            0.05,
            "the export to be under way",
        )
    finally:
        other.signal_group(signal.SIGCONT)
    began = time.monotonic()
    code = stopping.terminate(timeout=30)
    stopped_in = time.monotonic() - began
    assert code == 0
    assert "'handed_back': 1" in stopping.log_text(), stopping.log_tail()
    done = wait_for(
        lambda: next((h for h in history(prod_db) if h["status"] == "COMPLETED"), None),
        60,
        0.25,
        "the handed-back run to complete on the other instance",
    )
    assert done["id"] == run["id"] and done["attempt"] == 1  # the same record, run again from the start
    assert [h["status"] for h in history(prod_db)] == ["COMPLETED"]
    assert len([k for k in s3_server.keys(s3_bucket) if f"/{run['id']}_" in k]) == 1
    print(
        f"\nGraceful stop with an export running: stopped in {stopped_in:.1f}s, run handed back and completed"
    )


# -- PostgreSQL restart --------------------------------------------------------------------------


def test_postgresql_restart_while_schedulers_run_loses_nothing(
    throwaway_cluster, prod_db, fleet, s3_server, s3_bucket
):
    name = "prod_restart"
    copy_template_to(throwaway_cluster.admin_url, name, prod_db.name)
    database = ProdDatabase(name, throwaway_cluster.url(name))
    env = fleet.env(database.url, **FAST, **s3_env(s3_server, s3_bucket), DB_CONNECT_TIMEOUT="2")
    instances = [fleet.start(env, wait=False) for _ in range(2)]
    for instance in instances:
        instance.wait_healthy()
    count = 60
    start = now_utc()
    # Due across ~14 s: some before, some during, some after the outage.
    due = [start + timedelta(seconds=1 + n * 0.22) for n in range(count)]
    insert_schedules(database, business_id(database, SMALL_SHOP), owner_id(database), due, prefix="restart")
    # And one big export that is surely under way when the database goes.
    (big,) = insert_schedules(
        database,
        business_id(database, BIG_SHOP),
        owner_id(database),
        [start],
        export_type="SALES",
        fmt="excel",
        filters=ALL_SALES,
        prefix="restart-big",
    )
    count += 1
    wait_for(
        lambda: any(
            h["schedule_id"] is not None
            and str(h["schedule_id"]) == big
            and h["progress"] > 0
            and h["status"] == "PROCESSING"
            for h in history(database)
        ),
        30,
        0.05,
        "the big export to be under way",
    )
    time.sleep(1)
    before = Counter(h["status"] for h in history(database))
    throwaway_cluster.stop("fast")  # every connection is cut, like a crash or a failover
    down_at = time.monotonic()
    health = requests.get(f"{instances[0].url}{READY_URL}", headers=OPS_HEADERS, timeout=15)
    assert health.status_code == 503 and health.json()["checks"]["database"].startswith("error")
    time.sleep(3)
    throwaway_cluster.start()
    downtime = time.monotonic() - down_at

    for instance in instances:
        instance.wait_healthy(timeout=30)  # pool_pre_ping: stale connections replaced, no restart

    def all_done():
        rows = history(database)
        done = {h["schedule_id"] for h in rows if h["status"] in ("COMPLETED", "EMAILED")}
        busy = [h for h in rows if h["status"] in ("PENDING", "PROCESSING")]
        return len(done) == count and not busy

    try:
        wait_for(all_done, 90, 0.5, "every schedule to have a completed run and nothing left running")
    except AssertionError:
        print(Counter((h["status"], h["error_message"][:80]) for h in history(database)))
        print(fleet.logs())
        raise
    rows = history(database)
    assert_exactly_once(database)
    originals = [h for h in rows if h["attempt"] == 1]
    assert len(originals) == count  # every occurrence claimed once, none lost
    failed = [h for h in rows if h["status"] == "FAILED"]
    assert any(str(h["schedule_id"]) == big for h in failed), "the big export was cut off and retried"
    # A run cut off by the outage is FAILED with a truthful reason and has its retry.
    retried = {h["retry_of_id"] for h in rows if h["retry_of_id"]}
    assert all(h["id"] in retried for h in failed), failed
    assert all(i.proc.poll() is None for i in instances), "no instance died"
    print(
        f"\nPostgreSQL down {downtime:.1f}s with {dict(before)} at the stop: {count} occurrences, "
        f"{len(originals)} original runs, {len(failed)} failed by the outage and retried "
        f"({Counter(h['error_message'][:60] for h in failed)}), all completed"
    )


# -- SMTP down, then up --------------------------------------------------------------------------


def test_mail_server_down_then_up_delivers_every_mail_once(prod_db, fleet, s3_server, s3_bucket, smtp_server):
    smtp_server.stop()  # down before anything is sent
    env = fleet.env(
        prod_db.url,
        **FAST,
        **s3_env(s3_server, s3_bucket),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_server.port),
    )
    fleet.start(env)
    count = 5
    insert_schedules(
        prod_db,
        business_id(prod_db, SMALL_SHOP),
        owner_id(prod_db),
        [now_utc() - timedelta(minutes=1)] * count,
        recipients=lambda n: [f"down{n}@example.com", f"shared{n}@example.com"],
        prefix="smtp",
    )
    # The exports finish; their mail cannot go: COMPLETED (not FAILED), the error noted.
    wait_for(
        lambda: (
            sum(h["status"] == "COMPLETED" for h in history(prod_db)) == count
            and prod_db.scalar("SELECT count(*) FROM mail_messages WHERE attempts > 0 AND last_error <> ''")
            >= count
        ),
        40,
        0.25,
        "runs COMPLETED with failed first mail attempts",
    )
    errors = prod_db.query("SELECT DISTINCT last_error FROM mail_messages WHERE last_error <> ''")
    assert errors and all("refused" in e.lower() or "connect" in e.lower() for (e,) in errors), errors

    smtp_server.start()  # same port
    wait_for(
        lambda: sum(h["status"] == "EMAILED" for h in history(prod_db)) == count,
        40,
        0.25,
        "every run EMAILED once the server is back",
    )
    time.sleep(3)  # a duplicate would arrive now
    # Every export mail arrived once; nothing (exports or any other mail) arrived twice.
    sent = smtp_server.per_recipient_and_subject()
    assert set(sent.values()) == {1}, sent
    per_recipient = Counter(r for r, _ in sent if r.startswith(("down", "shared")))
    assert len(per_recipient) == 2 * count and set(per_recipient.values()) == {1}, sent
    assert prod_db.scalar("SELECT count(*) FROM mail_messages WHERE status <> 'sent'") == 0
    attempts = prod_db.scalar("SELECT max(attempts) FROM mail_messages")
    print(
        f"\nSMTP down then up: {count} runs EMAILED, {len(per_recipient)} recipients x 1 mail, up to {attempts} attempts"
    )


# -- S3 unavailable for a while ------------------------------------------------------------------


def test_s3_unavailable_for_a_while_fails_truthfully_then_retries(prod_db, fleet):
    s3 = S3Server()  # our own: stopping it must not disturb the other tests' server
    s3.start()
    try:
        bucket = s3.create_bucket(f"outage-{uuid.uuid4().hex[:8]}")
        env = fleet.env(prod_db.url, **{**FAST, "EXPORT_RETRY_BASE_SECONDS": "2"}, **s3_env(s3, bucket))
        instance = fleet.start(env)
        s3.stop()
        assert requests.get(f"{instance.url}/readyz", timeout=10).status_code == 503
        count = 3
        insert_schedules(
            prod_db,
            business_id(prod_db, SMALL_SHOP),
            owner_id(prod_db),
            [now_utc() - timedelta(minutes=1)] * count,
            prefix="s3",
        )
        wait_for(
            lambda: sum(h["status"] == "FAILED" for h in history(prod_db)) >= count,
            40,
            0.25,
            "runs FAILED while S3 is down",
        )
        failures = [h for h in history(prod_db) if h["status"] == "FAILED"]
        assert all("could not be saved" in h["error_message"] for h in failures), failures
        assert all(h["file_path"] == "" for h in failures)

        s3.start()  # same port, same buckets
        wait_for(
            lambda: len({h["schedule_id"] for h in history(prod_db) if h["status"] == "COMPLETED"}) == count,
            40,
            0.25,
            "every schedule completed by a retry once S3 is back",
        )
        instance.wait_healthy()
        assert_exactly_once(prod_db)
        completed = [h for h in history(prod_db) if h["status"] == "COMPLETED"]
        assert all(h["attempt"] >= 2 and h["retry_of_id"] for h in completed)
        token = make_token(prod_db, SMALL_SHOP)
        for h in completed:
            response = requests.get(
                f"{instance.url}{API}/history/{h['id']}/download/",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
        attempts = Counter(h["attempt"] for h in completed)
        print(f"\nS3 outage: {len(failures)} truthful failures, completed on attempts {dict(attempts)}")
    finally:
        s3.stop()


# -- a full disk ---------------------------------------------------------------------------------

FSIZE_LIMIT = 256 * 1024


def _limit_file_size() -> None:
    """In the instance (before exec): files may not grow past FSIZE_LIMIT, and a write past it
    fails with EFBIG instead of killing the process with SIGXFSZ (an ignored signal stays ignored
    across exec). No mount needed: the kernel refuses the write as a full disk would."""
    # Only the soft limit: raising it again later needs no privilege (the hard limit stays open).
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, resource.RLIM_INFINITY))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_full_disk_fails_truthfully_and_is_retried_once_space_returns(prod_db, fleet, tmp_path):
    export_root = tmp_path / "exports"
    env = fleet.env(
        prod_db.url,
        **{**FAST, "EXPORT_RETRY_BASE_SECONDS": "2"},
        STORAGE_BACKEND="local",
        EXPORT_ROOT=str(export_root),
    )
    instance = fleet.start(env, workers=1, preexec_fn=_limit_file_size)
    insert_schedules(
        prod_db,
        business_id(prod_db, BIG_SHOP),
        owner_id(prod_db),
        [now_utc() - timedelta(minutes=1)],
        export_type="SALES",
        fmt="csv",
        filters=ALL_SALES,
        prefix="disk",
    )
    first = wait_for(
        lambda: next((h for h in history(prod_db) if h["status"] == "FAILED"), None),
        40,
        0.1,
        "the export to fail on the full disk",
    )
    assert first["error_message"] == "The export file could not be written: the disk is full.", first
    assert first["file_path"] == ""
    # Space comes back: lift the limit on the running processes (arbiter and worker).
    for pid in [instance.proc.pid, *instance.worker_pids()]:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    done = wait_for(
        lambda: next((h for h in history(prod_db) if h["status"] == "COMPLETED"), None),
        40,
        0.25,
        "a retry to complete once the disk has room",
    )
    assert done["attempt"] >= 2 and done["record_count"] > 10000
    assert_exactly_once(prod_db)
    # Nothing half-written stays behind; the one stored file is whole.
    files = [p for p in export_root.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [os.path.basename(done["file_path"])]
    assert files[0].stat().st_size > FSIZE_LIMIT
    chain = history(prod_db)
    print(
        f"\nFull disk: {[(h['attempt'], h['status'], h['error_message'][:50]) for h in chain]}; "
        f"file {files[0].stat().st_size} bytes"
    )
