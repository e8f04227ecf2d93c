"""Under gunicorn (two workers, multiprocess mode): /metrics adds up every worker's figures, shows each
live worker's scheduler poll, and every log line on stderr is one JSON object with access fields."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.delivery.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gunicorn-metrics-token-0123456789"

pytestmark = [pytest.mark.slow, pytest.mark.nodb]


def _samples(text: str, name: str) -> list:
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def test_metrics_add_up_every_worker_and_logs_are_json(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_DATABASE", "PROMETHEUS"))}
    env.update(
        APP_ENV="production",
        SECRET_KEY="gunicorn-metrics-secret-0123456789abcdef",
        OPS_TOKEN=TOKEN,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        INSTANCE_PATH=str(tmp_path / "instance"),
        SCHEDULER_POLL_SECONDS="1",
        FLASK_APP="app",
    )
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        pids: set[str] = set()
        text = ""
        while time.monotonic() < deadline and len(pids) < 2:
            time.sleep(0.5)
            try:
                text = requests.get(f"{url}/metrics", headers=headers, timeout=5).text
            except requests.RequestException:
                continue
            pids = {
                s.labels.get("pid")
                for s in _samples(text, "export_automation_scheduler_last_poll_timestamp_seconds")
            }
        assert len(pids) == 2, text[-2000:]  # one series per live worker, whichever worker answered
        for _ in range(10):
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        text = requests.get(f"{url}/metrics", headers=headers, timeout=5).text
        healthz = [
            s
            for s in _samples(text, "export_automation_http_request_duration_seconds_count")
            if s.labels["endpoint"] == "health.healthz"
        ]
        assert sum(s.value for s in healthz) == 10  # summed over both workers' files
        assert requests.get(f"{url}/metrics", timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line one JSON object
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert any(r["path"] == "/healthz" and r["status"] == 200 and r["duration_ms"] >= 0 for r in access)
