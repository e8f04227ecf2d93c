"""A signed HTTPS POST of the run's JSON summary (contract section 6)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from dashboard.destinations.channels.base import Channel, FieldSpec, SendContext
from dashboard.destinations.content import DeliveryContent, webhook_body
from dashboard.destinations.outbound import OutboundPolicy, check_url, post_json
from dashboard.destinations.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signature_header


def url_label(url: str) -> str:
    """scheme://host[:port]/path: the query (which may carry tokens) is left out."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class WebhookChannel(Channel):
    kind = "webhook"
    label = "Webhook"
    fields = (FieldSpec("url"), FieldSpec("secret", secret=True, max_length=500))

    def target(self, config: dict[str, Any]) -> str:
        return url_label(config.get("url") or "")

    def check(self, config: dict[str, Any], policy: OutboundPolicy) -> dict[str, Any]:
        check_url(config["url"], policy)
        return {}

    def deliver(self, content: DeliveryContent, config: dict[str, Any], send: SendContext) -> None:
        body = webhook_body(content)
        headers = {
            SIGNATURE_HEADER: signature_header(config["secret"], body, int(send.clock())),
            IDEMPOTENCY_HEADER: send.idempotency_key,
        }
        post_json(config["url"], body, headers, send.policy)
