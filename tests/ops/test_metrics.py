"""/metrics: the operator token, and each counter moving with what really happened (a completed run,
a failed run, a mail that could not be delivered, a stale run) plus the database figures."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from dashboard.automation.runner import ScheduledExportRunner
from dashboard.extensions import db
from dashboard.models.automation import (
    STATUS_COMPLETED,
    STATUS_EMAILED,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_PROCESSING,
    ExportHistory,
    ExportSchedule,
)
from dashboard.models.types import utcnow
from tests.ops.conftest import OPS, OPS_TOKEN, seeded_business
from tests.ops.conftest import smtp as smtp  # noqa: F401  (fixture)


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=OPS)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def schedule(business, owner, **fields) -> ExportSchedule:
    values = dict(
        business_id=business.id,
        created_by_id=owner.id,
        name="Daily sales",
        export_type="SALES",
        format="csv",
        frequency="DAILY",
        hour=7,
        timezone="Europe/London",
        recipients=["accounting@example.com", "nobody@example.com"],
        filters={"date_range": "last_30_days"},
    )
    values.update(fields)
    item = ExportSchedule(**values)
    db.session.add(item)
    db.session.commit()
    return item


def test_metrics_need_the_operator_token(app_factory):
    off = app_factory(OPS_TOKEN="")
    assert off.test_client().get("/metrics", headers=OPS).status_code == 404
    on = app_factory(OPS_TOKEN=OPS_TOKEN)
    client = on.test_client()
    denied = client.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"export_automation" not in denied.data
    assert client.get("/metrics", headers=OPS).status_code == 200


def test_counters_move_with_a_run_a_failed_run_and_an_undelivered_mail(app_factory, smtp):  # noqa: F811
    from tests.delivery.conftest import smtp_config

    smtp.handler.refuse.add("nobody@example.com")  # 550: this mail is refused, permanently
    app = app_factory(OPS_TOKEN=OPS_TOKEN, **smtp_config(smtp.port))
    client = app.test_client()
    with app.app_context():
        business, owner = seeded_business()
        good = schedule(business, owner)
        broken = schedule(
            business, owner, name="Broken", filters={"start_date": "2024-03-10", "end_date": "2024-03-01"}
        )
        before = scrape(client)

        done = ScheduledExportRunner().execute_schedule(good, "SCHEDULED")
        failed = ScheduledExportRunner().execute_schedule(broken, "SCHEDULED")
        assert done.status == STATUS_EMAILED and failed.status == STATUS_FAILED
        after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    run = {"export_type": "SALES", "format": "csv", "trigger": "SCHEDULED"}
    assert moved("export_automation_runs_total", status=STATUS_COMPLETED, **run) == 1
    assert moved("export_automation_runs_total", status=STATUS_EMAILED, **run) == 1
    assert moved("export_automation_runs_total", status=STATUS_FAILED, **run) == 1
    assert (
        moved(
            "export_automation_run_duration_seconds_count", export_type="SALES", format="csv", status="FAILED"
        )
        == 1
    )
    assert moved("export_automation_mail_total", kind="export", outcome="sent") == 1
    assert moved("export_automation_mail_total", kind="export", outcome="refused") == 1
    assert moved("export_automation_mail_total", kind="failure", outcome="sent") == 1
    # Request latency of the scrape itself (recorded after the first answer).
    assert (
        value(
            after,
            "export_automation_http_request_duration_seconds_count",
            endpoint="metrics.metrics",
            method="GET",
            status="2xx",
        )
        >= 1
    )


def test_given_up_mail_is_counted(app_factory, closed_port):
    """Nothing listens: each attempt is a transient failure; past MAIL_GIVE_UP_HOURS it is given up."""
    from dashboard import delivery
    from dashboard.models.automation import MAIL_FAILED, MailMessage
    from tests.delivery.conftest import smtp_config

    app = app_factory(OPS_TOKEN=OPS_TOKEN, **smtp_config(closed_port, MAIL_GIVE_UP_HOURS=0))
    client = app.test_client()
    with app.app_context():
        business, owner = seeded_business()
        before = scrape(client)
        history = ScheduledExportRunner().execute_schedule(schedule(business, owner), "SCHEDULED")
        assert history.status == STATUS_COMPLETED
        delivery.process_outbox(utcnow() + timedelta(hours=1))
        rows = db.session.query(MailMessage).filter_by(history_id=history.id).all()
        assert rows and all(r.status == MAIL_FAILED for r in rows)
        after = scrape(client)
    given_up = value(after, "export_automation_mail_total", kind="export", outcome="given_up") - value(
        before, "export_automation_mail_total", kind="export", outcome="given_up"
    )
    assert given_up >= 1


def test_backlog_oldest_pending_and_stale_runs(app_factory):
    app = app_factory(OPS_TOKEN=OPS_TOKEN, EXPORT_STALE_SECONDS=60)
    client = app.test_client()
    with app.app_context():
        business, owner = seeded_business()
        now = utcnow()
        for minutes in (1, 30):
            db.session.add(
                ExportHistory(
                    business_id=business.id,
                    export_type="SALES",
                    format="csv",
                    status=STATUS_PENDING,
                    created_at=now - timedelta(minutes=minutes),
                )
            )
        db.session.add(
            ExportHistory(
                business_id=business.id,
                export_type="SALES",
                format="csv",
                status=STATUS_PROCESSING,
                created_at=now - timedelta(hours=1),
                started_at=now - timedelta(hours=1),
                heartbeat_at=now - timedelta(hours=1),
                trigger="MANUAL",
            )
        )
        db.session.commit()
        before = scrape(client)
        assert value(before, "export_automation_runs_pending") == 2
        assert value(before, "export_automation_runs_processing") == 1
        assert 29 * 60 <= value(before, "export_automation_oldest_pending_run_age_seconds") < 32 * 60
        assert value(before, "export_automation_database_up") == 1

        ScheduledExportRunner().recover_stale_runs()
        after = scrape(client)
    assert value(after, "export_automation_runs_processing") == 0
    recovered = value(after, "export_automation_stale_runs_recovered_total", reason="interrupted") - value(
        before, "export_automation_stale_runs_recovered_total", reason="interrupted"
    )
    assert recovered == 1


def test_held_mail_is_counted_and_shown_in_the_outbox_gauge(app_factory, smtp):  # noqa: F811
    """MAIL_DAILY_LIMIT_PER_BUSINESS=1 and three recipients: one mail goes, two are held."""
    from tests.delivery.conftest import smtp_config

    app = app_factory(OPS_TOKEN=OPS_TOKEN, MAIL_DAILY_LIMIT_PER_BUSINESS=1, **smtp_config(smtp.port))
    client = app.test_client()
    with app.app_context():
        business, owner = seeded_business()
        three = schedule(business, owner, recipients=["a@example.com", "b@example.com", "c@example.com"])
        before = scrape(client)
        history = ScheduledExportRunner().execute_schedule(three, "SCHEDULED")
        assert history.status == STATUS_EMAILED
        after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("export_automation_mail_total", kind="export", outcome="sent") == 1
    assert moved("export_automation_mail_total", kind="export", outcome="held") == 2
    assert value(after, "export_automation_mail_outbox", status="held") == 2
    assert value(after, "export_automation_mail_outbox_oldest_age_seconds", status="held") >= 0
