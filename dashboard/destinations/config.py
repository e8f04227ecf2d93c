"""A stored destination as the channels use it: its secrets decrypted, its far end's label, and the
outbound policy and secret box of this app's configuration (the services and the destination
outbox both read them here)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from dashboard.core.secrets import SecretBox, secret_box_for
from dashboard.destinations.channels import get_channel
from dashboard.destinations.errors import SecretUnreadable
from dashboard.destinations.outbound import OutboundPolicy


def secret_box() -> SecretBox:
    return secret_box_for(current_app.config)


def outbound_policy() -> OutboundPolicy:
    return OutboundPolicy.from_config(current_app.config)


def plain_config(destination: dict, box: SecretBox | None = None) -> dict[str, Any]:
    """A stored destination with its secrets decrypted (for a channel to use; never shown)."""
    box = box or secret_box()
    channel = get_channel(destination["kind"])
    config = dict(destination)
    for name in channel.secret_fields():
        if config.get(name):
            config[name] = box.decrypt(config[name])
    return config


def target_of(destination: dict) -> str:
    channel = get_channel(destination["kind"])
    if channel.kind in ("slack", "teams"):
        # The label needs the host only; the URL itself stays encrypted.
        try:
            return channel.target({"url": secret_box().decrypt(destination.get("url") or "")})
        except SecretUnreadable:
            return channel.label
    return channel.target(destination)
