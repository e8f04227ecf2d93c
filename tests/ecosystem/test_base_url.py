"""Links in e-mails without BASE_URL: the served host and port; a production start warns once."""

from __future__ import annotations

import logging

import click
import pytest

from dashboard.base_url import DEFAULT_DEV_URL, external_base_url


def test_in_a_request_links_use_the_served_host_and_port(app_factory):
    app = app_factory(BASE_URL="")
    with app.test_request_context("/", base_url="http://127.0.0.1:5077/"):
        assert external_base_url() == "http://127.0.0.1:5077"


def test_outside_a_request_links_use_the_first_served_address(app_factory):
    from dashboard.storage.links import make_download_url

    app = app_factory(BASE_URL="")
    with app.app_context():
        assert external_base_url() == DEFAULT_DEV_URL  # nothing served yet
    client = app.test_client()
    client.get("/login", base_url="http://localhost:5077")
    # A later request with another Host header (forged, or another name) changes nothing.
    client.get("/login", base_url="http://evil.example.com")

    class Run:  # what make_download_url reads
        id = "5b6f0a4e-0000-0000-0000-000000000001"
        business_id = "5b6f0a4e-0000-0000-0000-000000000002"

    with app.app_context():  # as the scheduler's threads do: no request
        assert external_base_url() == "http://localhost:5077"
        assert make_download_url(Run()).startswith("http://localhost:5077/d/")


def test_base_url_when_set_always_wins(app_factory):
    app = app_factory(BASE_URL="https://exports.example.com/")
    app.test_client().get("/login", base_url="http://127.0.0.1:5077")
    with app.test_request_context("/", base_url="http://127.0.0.1:5077/"):
        assert external_base_url() == "https://exports.example.com"
    with app.app_context():
        assert external_base_url() == "https://exports.example.com"


@pytest.mark.parametrize(
    "host, expected", [("127.0.0.1", "http://127.0.0.1:5055"), ("0.0.0.0", "http://127.0.0.1:5055")]
)
def test_before_any_request_flask_runs_host_and_port(app_factory, host, expected):
    with click.Context(click.Command("run"), info_name="run") as context:
        context.params.update(host=host, port=5055)
        app = app_factory(BASE_URL="")
    with app.app_context():
        assert external_base_url() == expected


def _warnings(records):
    return [r for r in records if r.levelno == logging.WARNING and "BASE_URL" in r.getMessage()]


def test_a_production_start_without_base_url_warns_once(app_factory, caplog):
    caplog.set_level(logging.WARNING)
    app_factory(ENV_NAME="production", BASE_URL="")
    warnings = _warnings(caplog.records)
    assert len(warnings) == 1, caplog.text
    assert "Set BASE_URL to the site's public address" in warnings[0].getMessage()
    caplog.clear()
    app_factory(ENV_NAME="production", BASE_URL="https://exports.example.com")
    app_factory(ENV_NAME="development", BASE_URL="")
    assert _warnings(caplog.records) == []
