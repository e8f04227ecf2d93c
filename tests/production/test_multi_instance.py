"""Three gunicorn instances (two workers each, every worker's scheduler polling every second) on one
PostgreSQL database and one S3 bucket: hundreds of schedules come due and each occurrence runs exactly
once, mails exactly once, and every file is downloadable through every instance."""

from __future__ import annotations

import email
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.production.prodkit import SMALL_SHOP, business_id, insert_schedules, make_token, owner_id, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.nodb]  # nodb: it brings its own databases (see conftest)

SCHEDULES = 200
API = "/api/reports/automation"


def test_hundreds_of_due_schedules_run_exactly_once_across_three_instances(
    prod_db, fleet, s3_server, s3_bucket, smtp_server
):
    business, owner = business_id(prod_db, SMALL_SHOP), owner_id(prod_db)
    token = make_token(prod_db, SMALL_SHOP)
    env = fleet.env(
        prod_db.url,
        STORAGE_BACKEND="s3",
        S3_BUCKET=s3_bucket,
        S3_PREFIX="prod",
        S3_ENDPOINT_URL=s3_server.endpoint,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        MAIL_TIMEOUT=10,
        LOGIN_RATE_LIMIT="10 per 5 minutes",
        # Counters of our own in the shared Redis: another test session may be counting too.
        RATELIMIT_KEY_PREFIX=f"prodtest-{uuid.uuid4().hex}",
    )
    # Half are overdue already (downtime: they coalesce into one run each); half come due while the
    # instances poll, spread over a few seconds so that every poller sees some of them first.
    start = datetime.now(UTC)
    due = [
        start - timedelta(hours=3) if n % 2 == 0 else start + timedelta(seconds=4 + (n % 7))
        for n in range(SCHEDULES)
    ]
    schedule_ids = insert_schedules(
        prod_db, business, owner, due, recipients=lambda n: [f"recipient{n}@example.com"]
    )

    # Two with --preload (app imported in the arbiter, workers forked from it), one without.
    instances = [fleet.start(env, wait=False, preload=n != 1) for n in range(3)]
    for instance in instances:
        instance.wait_healthy()
    for instance in instances:
        # Every worker runs its own scheduler, started after the fork; the arbiter (which imported
        # the app with --preload) has no thread besides its main one.
        def schedulers_started(instance=instance):
            workers = instance.worker_pids()
            text = instance.log_text()
            return len(workers) == 2 and all(
                f"export scheduler started in worker {pid}" in text for pid in workers
            )

        wait_for(schedulers_started, 30, 0.2, f"{instance.name}: a scheduler in each worker")
        assert len(list(Path(f"/proc/{instance.proc.pid}/task").iterdir())) == 1

    def finished():
        return prod_db.scalar("SELECT count(*) FROM export_history WHERE status = 'EMAILED'") >= SCHEDULES

    began = time.monotonic()
    try:
        wait_for(finished, 150, 0.5, f"{SCHEDULES} runs EMAILED")
    except AssertionError:
        print(prod_db.query("SELECT status, error_message, count(*) FROM export_history GROUP BY 1, 2"))
        print(fleet.logs())
        raise
    elapsed = time.monotonic() - began

    # Exactly once: one history row per (schedule, occurrence), one per schedule, all successful.
    per_occurrence = prod_db.query(
        "SELECT schedule_id, occurrence_at, count(*) FROM export_history GROUP BY 1, 2"
    )
    counts = Counter(count for _, _, count in per_occurrence)
    assert counts == Counter({1: SCHEDULES}), counts
    assert {str(s) for s, _, _ in per_occurrence} == set(schedule_ids)
    statuses = dict(prod_db.query("SELECT status, count(*) FROM export_history GROUP BY 1"))
    assert statuses == {"EMAILED": SCHEDULES}
    # Every schedule moved on to its next future occurrence.
    assert (
        prod_db.scalar("SELECT count(*) FROM export_schedules WHERE next_run_at <= now() at time zone 'utc'")
        == 0
    )

    # Mail exactly once per recipient (each schedule has its own recipient).
    wait_for(lambda: len(smtp_server.received()) >= SCHEDULES, 30, 0.2, "all mails received")
    time.sleep(2)  # any duplicate would arrive now
    sent = smtp_server.per_recipient_and_subject()
    assert set(sent.values()) == {1}, [key for key, n in sent.items() if n > 1]
    per_recipient = Counter(r for r, _ in sent if r.startswith("recipient"))
    assert len(per_recipient) == SCHEDULES and set(per_recipient.values()) == {1}

    # The files: one object per run in the bucket, under the prefix, each the record's file_path.
    paths = {row[0] for row in prod_db.query("SELECT file_path FROM export_history")}
    keys = set(s3_server.keys(s3_bucket))
    assert keys == {f"prod/{path}" for path in paths}

    span, average = prod_db.query(
        "SELECT extract(epoch FROM max(completed_at) - min(started_at)),"
        " extract(epoch FROM avg(completed_at - started_at)) FROM export_history"
    )[0]
    # Work was shared: which worker processes ran runs (their log lines carry the history id).
    runs_by_instance = {}
    for instance in instances:
        ids = set(re.findall(r'history_id=([0-9a-f-]{36}) msg="run ended: COMPLETED"', instance.log_text()))
        runs_by_instance[instance.name] = len(ids)
    print(
        f"\n{SCHEDULES} occurrences ran exactly once in {elapsed:.1f}s; per occurrence counts {dict(counts)}; "
        f"history ids logged per instance {runs_by_instance}; mails {sum(per_recipient.values())}; "
        f"first start to last finish {float(span):.1f}s, {float(average):.2f}s a run"
    )

    # Every file downloads through every instance: the API (Bearer token) and the e-mailed link.
    sample = prod_db.query("SELECT id, file_path FROM export_history ORDER BY random() LIMIT 4")
    client = s3_server.client()
    for history_id, path in sample:
        body = client.get_object(Bucket=s3_bucket, Key=f"prod/{path}")["Body"].read()
        assert body.startswith(b"\xef\xbb\xbf")  # our CSV (UTF-8 with BOM)
        for instance in instances:
            response = requests.get(
                f"{instance.url}{API}/history/{history_id}/download/",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert response.status_code == 200, (instance.name, response.text[:300])
            assert response.content == body
            assert "attachment" in response.headers["Content-Disposition"]
    links = _links_from_mail(smtp_server, limit=3)
    assert links, "the export mails carry a signed download link"
    for link_path in links:
        contents = set()
        for instance in instances:
            response = requests.get(f"{instance.url}{link_path}/file", timeout=10)
            assert response.status_code == 200, (instance.name, link_path, response.status_code)
            contents.add(response.content)
        assert len(contents) == 1

    # Rate limits hold across instances (Redis): failed sign-ins spread over three instances.
    session = requests.Session()
    page = session.get(f"{instances[0].url}/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert csrf, "the sign-in form carries a CSRF token"
    codes = []
    for attempt in range(12):
        response = session.post(
            f"{instances[attempt % 3].url}/login",
            data={"email": "nobody@example.com", "password": "wrong-password", "csrf_token": csrf.group(1)},
            timeout=10,
        )
        codes.append(response.status_code)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429], codes
    cpu = sum(instance.cpu_seconds() for instance in instances)
    print(f"CPU used by the three instances (boot included): {cpu:.1f}s")
    stopping = time.monotonic()
    fleet.stop_all()
    print(f"graceful stop of three instances: {time.monotonic() - stopping:.1f}s")


def _links_from_mail(smtp_server, limit: int) -> list[str]:
    found = []
    for received in smtp_server.received():
        message = email.message_from_bytes(received.data)
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode("utf-8", "replace")
                match = re.search(r"https?://[^/\s]+(/d/[A-Za-z0-9_.\-]+)", text)
                if match:
                    found.append(match.group(1))
                    break
        if len(found) >= limit:
            break
    return found
