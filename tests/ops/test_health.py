"""/healthz (liveness) and /readyz (readiness): ok/error for anybody, details for the operator token."""

from __future__ import annotations

import time

import pytest

from dashboard.automation import jobs
from tests.ops.conftest import OPS, OPS_TOKEN


def test_healthz_is_liveness_only_and_anonymous_callers_see_no_details(app_factory, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # Storage broken: liveness does not care (the process answers); readiness does.
    application = app_factory(EXPORT_ROOT=str(blocker / "exports"), OPS_TOKEN=OPS_TOKEN)
    client = application.test_client()
    live = client.get("/healthz")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    assert live.headers["Cache-Control"] == "no-store"
    operator = client.get("/healthz", headers=OPS).get_json()
    assert operator["status"] == "ok" and operator["version"] and operator["pid"] > 0
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json() == {"status": "error"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {OPS_TOKEN}"}, {"X-Ops-Token": "x"}],
)
def test_readyz_details_need_the_exact_operator_token(app_factory, headers):
    application = app_factory(OPS_TOKEN=OPS_TOKEN)
    body = application.test_client().get("/readyz", headers=headers).get_json()
    assert body == {"status": "ok"}


def test_no_operator_token_configured_means_no_details_for_anybody(app_factory):
    application = app_factory(OPS_TOKEN="")
    body = application.test_client().get("/readyz", headers={"Authorization": "Bearer "}).get_json()
    assert body == {"status": "ok"}


def test_x_ops_token_header_works_too(app_factory):
    application = app_factory(OPS_TOKEN=OPS_TOKEN)
    body = application.test_client().get("/readyz", headers={"X-Ops-Token": OPS_TOKEN}).get_json()
    assert body["checks"]["database"] == "ok"


def test_readyz_is_not_ready_with_smtp_down_and_ready_with_it_up(app_factory, smtp, closed_port):
    down = app_factory(
        OPS_TOKEN=OPS_TOKEN, MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port, READYZ_SMTP_CACHE_SECONDS=0
    )
    client = down.test_client()
    anonymous = client.get("/readyz")
    assert anonymous.status_code == 503 and anonymous.get_json() == {"status": "error"}
    detailed = client.get("/readyz", headers=OPS).get_json()
    assert detailed["checks"]["smtp"].startswith("error: SMTP unavailable")
    assert detailed["checks"]["database"] == "ok"
    # The load balancer's question leaves SMTP out: this host can still serve pages.
    assert client.get("/readyz?checks=database,storage").status_code == 200

    up = app_factory(OPS_TOKEN=OPS_TOKEN, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    response = up.test_client().get("/readyz", headers=OPS)
    assert response.status_code == 200 and response.get_json()["checks"]["smtp"] == "ok"


def test_smtp_answer_is_reused_for_a_while(app_factory, smtp):
    application = app_factory(
        OPS_TOKEN=OPS_TOKEN, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, READYZ_SMTP_CACHE_SECONDS=60
    )
    client = application.test_client()
    assert client.get("/readyz?checks=smtp").status_code == 200
    smtp.stop()
    assert client.get("/readyz?checks=smtp").status_code == 200  # cached: no SMTP session per poll


def test_readyz_checks_redis_when_configured(app_factory, closed_port):
    ok = app_factory(OPS_TOKEN=OPS_TOKEN, REDIS_URL="redis://127.0.0.1:6379/15")
    assert ok.test_client().get("/readyz", headers=OPS).get_json()["checks"]["redis"] == "ok"
    down = app_factory(OPS_TOKEN=OPS_TOKEN, REDIS_URL=f"redis://127.0.0.1:{closed_port}/15")
    response = down.test_client().get("/readyz", headers=OPS)
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error: Redis unavailable")


def test_readyz_is_not_ready_when_the_scheduler_stopped_or_stopped_polling(app_factory, monkeypatch):
    application = app_factory(OPS_TOKEN=OPS_TOKEN, SCHEDULER_ENABLED=True, SCHEDULER_POLL_SECONDS=1)
    client = application.test_client()
    scheduler = jobs.start_scheduler(application)
    try:
        deadline = time.monotonic() + 10
        polls = application.extensions["export_scheduler_polls"]
        while polls["last_poll"] is None and time.monotonic() < deadline:
            time.sleep(0.1)  # wait for a real poll
        assert polls["last_poll"] is not None
        body = client.get("/readyz", headers=OPS).get_json()
        assert body["checks"]["scheduler"] == "ok", body
        # A poll that never comes back (a hung database call): stale after max(3 polls, poll + 60 s).
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 120)
        stale = client.get("/readyz", headers=OPS)
        assert stale.status_code == 503
        assert stale.get_json()["checks"]["scheduler"].startswith("error: no poll for")
        monkeypatch.setattr(time, "time", real_time)
    finally:
        scheduler.shutdown(wait=True)
    stopped = client.get("/readyz", headers=OPS)
    assert stopped.status_code == 503
    assert stopped.get_json()["checks"]["scheduler"] == "error: scheduler stopped"
    assert client.get("/readyz").get_json() == {"status": "error"}
    jobs.shutdown_scheduler(application)


def test_readyz_refuses_an_unknown_check_name(client):
    response = client.get("/readyz?checks=database,bogus")
    assert response.status_code == 400
    assert "bogus" in response.get_json()["errors"]["checks"][0]


def test_version_endpoint_and_operator_details(app_factory):
    from dashboard.core.version import app_version

    application = app_factory(OPS_TOKEN=OPS_TOKEN)
    client = application.test_client()
    assert client.get("/api/version").get_json() == {"version": app_version()}
    detailed = client.get("/api/version", headers=OPS).get_json()
    assert detailed["version"] == app_version() and detailed["python"].startswith("3.")
    assert set(detailed) >= {"git_revision", "schema_revision", "hostname"}
