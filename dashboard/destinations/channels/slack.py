"""A Slack incoming webhook: a Block Kit message with the download links as buttons. The URL is
the secret (whoever has it can post to the channel)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from dashboard.destinations.channels.base import Channel, FieldSpec, SendContext
from dashboard.destinations.content import DeliveryContent, slack_message
from dashboard.destinations.outbound import OutboundPolicy, check_url, post_json


class SlackChannel(Channel):
    kind = "slack"
    label = "Slack"
    fields = (FieldSpec("url", secret=True),)

    def target(self, config: dict[str, Any]) -> str:
        host = urlsplit(config.get("url") or "").hostname or "?"
        return f"{self.label} ({host})"

    def check(self, config: dict[str, Any], policy: OutboundPolicy) -> dict[str, Any]:
        check_url(config["url"], policy)
        return {}

    def message(self, content: DeliveryContent) -> dict[str, Any]:
        return slack_message(content)

    def deliver(self, content: DeliveryContent, config: dict[str, Any], send: SendContext) -> None:
        body = json.dumps(self.message(content), ensure_ascii=False).encode()
        post_json(config["url"], body, {}, send.policy)
