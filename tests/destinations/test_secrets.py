"""Destination secrets at rest: Fernet with keys from DESTINATIONS_SECRET_KEYS, and rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from dashboard.core.secrets import SecretBox, derived_key, secret_box_for
from dashboard.destinations.errors import SecretUnreadable

pytestmark = pytest.mark.nodb


def test_a_secret_round_trips_and_is_not_stored_in_clear():
    box = SecretBox([Fernet.generate_key().decode()])
    token = box.encrypt("whsec_abc123")
    assert "whsec_abc123" not in token
    assert box.decrypt(token) == "whsec_abc123"
    assert box.encrypt("whsec_abc123") != token  # a fresh IV each time


def test_rotation_new_key_first_old_tokens_still_read_then_rotate_then_drop_the_old_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = SecretBox([old]).encrypt("s3cret")
    during = SecretBox([new, old])
    assert during.decrypt(stored) == "s3cret"
    rotated = during.rotate(stored)
    after = SecretBox([new])
    assert after.decrypt(rotated) == "s3cret"
    with pytest.raises(SecretUnreadable):
        after.decrypt(stored)  # what was not rotated is lost once the old key is gone


def test_a_wrong_key_or_a_damaged_token_is_a_clear_error():
    token = SecretBox([Fernet.generate_key().decode()]).encrypt("x")
    with pytest.raises(SecretUnreadable, match="DESTINATIONS_SECRET_KEYS"):
        SecretBox([Fernet.generate_key().decode()]).decrypt(token)
    with pytest.raises(SecretUnreadable):
        SecretBox([Fernet.generate_key().decode()]).decrypt("not-a-token")


def test_a_malformed_key_names_its_position():
    with pytest.raises(ValueError, match="key 2 is not a Fernet key"):
        SecretBox([Fernet.generate_key().decode(), "too-short"])


def test_without_configured_keys_one_is_derived_from_secret_key():
    config = {"SECRET_KEY": "abc", "DESTINATIONS_SECRET_KEYS": []}
    token = secret_box_for(config).encrypt("v")
    assert secret_box_for(dict(config)).decrypt(token) == "v"
    assert derived_key("abc") != derived_key("abd")
    with pytest.raises(SecretUnreadable):
        secret_box_for({"SECRET_KEY": "other", "DESTINATIONS_SECRET_KEYS": []}).decrypt(token)
    configured = {"SECRET_KEY": "abc", "DESTINATIONS_SECRET_KEYS": [Fernet.generate_key().decode()]}
    with pytest.raises(SecretUnreadable):
        secret_box_for(configured).decrypt(token)
