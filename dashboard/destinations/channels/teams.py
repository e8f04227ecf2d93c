"""A Microsoft Teams incoming webhook (Workflows or connector): one Adaptive Card, with the
download links as Action.OpenUrl buttons. The URL is the secret."""

from __future__ import annotations

from typing import Any

from dashboard.destinations.channels.slack import SlackChannel
from dashboard.destinations.content import DeliveryContent, teams_message


class TeamsChannel(SlackChannel):
    kind = "teams"
    label = "Teams"

    def message(self, content: DeliveryContent) -> dict[str, Any]:
        return teams_message(content)
