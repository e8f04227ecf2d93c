"""Secrets at rest (destination secrets, file passwords): Fernet tokens, keys from DESTINATIONS_SECRET_KEYS.

The first key encrypts; every key decrypts (MultiFernet), so a key can be rotated: put the new key
first, re-encrypt the stored secrets (`rotate`), then remove the old key. Without configured keys
one key is derived from SECRET_KEY, so development needs no setup (docs/operations.md).
"""

from __future__ import annotations

import base64

# cryptography is imported where a secret is opened or sealed, not here: `flask` commands import
# this module (through the destinations CLI) and most never touch a secret.


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted with any configured key (DESTINATIONS_SECRET_KEYS)."""


def derived_key(secret_key: str) -> str:
    """A Fernet key derived from SECRET_KEY (HKDF-SHA256, its own salt: never the same bytes as
    the session signing key)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"export-destinations", info=b"fernet").derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw).decode()


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("At least one key is needed.")
        from cryptography.fernet import Fernet, MultiFernet

        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip()))
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"DESTINATIONS_SECRET_KEYS: key {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)."
                ) from exc
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError) as exc:
            raise SecretUnreadable(
                "A destination secret could not be decrypted with DESTINATIONS_SECRET_KEYS."
            ) from exc

    def rotate(self, token: str) -> str:
        """The same secret encrypted with the first key (for `flask destinations rotate-secrets`)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError) as exc:
            raise SecretUnreadable(
                "A destination secret could not be decrypted with DESTINATIONS_SECRET_KEYS."
            ) from exc


def secret_box_for(config) -> SecretBox:
    """The box for an app's configuration (a Flask config or any mapping)."""
    keys = list(config.get("DESTINATIONS_SECRET_KEYS") or [])
    return SecretBox(keys or [derived_key(config["SECRET_KEY"])])
