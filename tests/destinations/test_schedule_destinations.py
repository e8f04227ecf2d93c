"""Destinations on a schedule: validation, secrets write-only and kept when an update leaves them
out, what the API shows, and the outbound check made when saving."""

from __future__ import annotations

import json

import pytest

from dashboard.core.errors import ValidationError
from dashboard.services.destinations import (
    plain_config,
    represent_destinations,
    validate_destinations,
)

from .servers import SftpServer


@pytest.fixture
def app(app_factory):
    application = app_factory(DESTINATIONS_ALLOW_PRIVATE=True, DESTINATIONS_TIMEOUT_SECONDS=2)
    with application.app_context():
        yield application


def test_secrets_are_never_shown_and_are_kept_when_an_update_leaves_them_out(app, receiver):
    stored = validate_destinations(
        [
            {"kind": "webhook", "url": receiver.url, "secret": "whsec_1"},
            {"kind": "slack", "url": receiver.url},
        ]
    )
    assert "whsec_1" not in json.dumps(stored)
    shown = represent_destinations(stored)
    assert "secret" not in shown[0] and "url" not in shown[1]
    assert shown[0]["secrets_set"] == ["secret"] and shown[1]["secrets_set"] == ["url"]
    assert shown[0]["url"] == receiver.url

    # A client sends back what it was shown (with the read-only keys), changing only the order.
    updated = validate_destinations([shown[1], shown[0]], stored)
    assert [d["id"] for d in updated] == [stored[1]["id"], stored[0]["id"]]
    assert plain_config(updated[1])["secret"] == "whsec_1"
    assert plain_config(updated[0])["url"] == receiver.url

    # A new secret replaces the old one.
    replaced = validate_destinations([{**shown[0], "secret": "whsec_2"}], stored)
    assert plain_config(replaced[0])["secret"] == "whsec_2"


def test_a_new_destination_without_its_secret_is_an_error(app, receiver):
    with pytest.raises(ValidationError) as refused:
        validate_destinations([{"kind": "webhook", "url": receiver.url}])
    assert refused.value.errors == {"destinations.0.secret": ["This field is required."]}


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        ({"kind": "fax"}, {"destinations.0.kind": ["Choose one of: s3, sftp, slack, teams, webhook."]}),
        (
            {"kind": "slack", "url": "https://h.example.com/x", "channel": "#x"},
            {"destinations.0.channel": ["Unknown field."]},
        ),
        (
            {"kind": "sftp", "host": "h.example.com", "username": "u", "port": 70000, "password": "p"},
            {"destinations.0.port": ["Enter a port from 1 to 65535."]},
        ),
        (
            {"kind": "sftp", "host": "h.example.com", "username": "u"},
            {"destinations.0.password": ["Give a password or a private key."]},
        ),
        (
            {"kind": "s3", "bucket": "b", "access_key_id": 5, "secret_access_key": "s"},
            {"destinations.0.access_key_id": ["Enter text."]},
        ),
        ("webhook", {"destinations.0": ["Each destination is an object with a kind."]}),
    ],
)
def test_bad_destinations_get_clear_errors(app, item, errors):
    with pytest.raises(ValidationError) as refused:
        validate_destinations([item], check=False)
    assert refused.value.errors == errors


def test_not_a_list_or_too_many(app):
    with pytest.raises(ValidationError, match="list"):
        validate_destinations({"kind": "slack"})
    with pytest.raises(ValidationError, match="at most 10"):
        validate_destinations([{"kind": "slack", "url": "https://x.example.com"}] * 11, check=False)


def test_production_mode_refuses_private_addresses_when_saving(app_factory):
    production_like = app_factory(DESTINATIONS_ALLOW_PRIVATE=False)
    with production_like.app_context():
        with pytest.raises(ValidationError) as refused:
            validate_destinations([{"kind": "webhook", "url": "https://10.0.0.1/hook", "secret": "s"}])
        assert refused.value.errors == {
            "destinations.0.url": [
                "10.0.0.1 is a private address; destinations may reach only public addresses."
            ]
        }


def test_sftp_host_key_is_pinned_when_saved_and_kept_on_later_saves(app, tmp_path):
    server = SftpServer(tmp_path, "u", password="p").start()
    try:
        stored = validate_destinations(
            [{"kind": "sftp", "host": "127.0.0.1", "port": server.port, "username": "u", "password": "p"}]
        )
        assert stored[0]["host_key_fingerprint"] == server.fingerprint
        shown = represent_destinations(stored)
        assert shown[0]["host_key_fingerprint"] == server.fingerprint
        assert shown[0]["target"] == f"sftp://u@127.0.0.1:{server.port}"
    finally:
        server.stop()
    # The server is gone: saving again unchanged does not reconnect, and keeps the pinned key.
    again = validate_destinations(
        [{k: v for k, v in shown[0].items() if k != "host_key_fingerprint"}], stored
    )
    assert again[0]["host_key_fingerprint"] == stored[0]["host_key_fingerprint"]


def test_rotate_secrets_command_moves_every_secret_to_the_new_key(app_factory):
    from cryptography.fernet import Fernet

    from dashboard.extensions import db
    from dashboard.models.automation import ExportSchedule
    from dashboard.services.destinations import secret_box

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = app_factory(DESTINATIONS_SECRET_KEYS=[old], DESTINATIONS_ALLOW_PRIVATE=True)
    with first.app_context():
        from dashboard.models import Business

        business = Business(name="Rotating", timezone="UTC", currency="USD")
        db.session.add(business)
        db.session.flush()
        schedule = ExportSchedule(
            business_id=business.id,
            name="s",
            export_type="SALES",
            format="csv",
            frequency="DAILY",
            timezone="UTC",
            recipients=[],
            destinations=validate_destinations(
                [{"kind": "slack", "url": "https://93.184.215.14/x"}], check=False
            ),
            file_password=secret_box().encrypt("zip-pass"),
        )
        db.session.add(schedule)
        db.session.commit()
        first.config["DESTINATIONS_SECRET_KEYS"] = [new, old]
        result = first.test_cli_runner().invoke(args=["destinations", "rotate-secrets"])
        assert result.exit_code == 0, result.output
        assert "Re-encrypted 2 secret(s) on 1 schedule(s)" in result.output
        first.config["DESTINATIONS_SECRET_KEYS"] = [new]
        db.session.expire_all()
        stored = db.session.get(ExportSchedule, schedule.id)
        assert plain_config(stored.destinations[0])["url"] == "https://93.184.215.14/x"
        assert secret_box().decrypt(stored.file_password) == "zip-pass"
        first.config["DESTINATIONS_SECRET_KEYS"] = [Fernet.generate_key().decode()]
        refused = first.test_cli_runner().invoke(args=["destinations", "rotate-secrets"])
        assert refused.exit_code == 2 and "Nothing was rewritten" in refused.output
