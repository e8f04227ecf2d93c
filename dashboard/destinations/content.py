"""What every channel sends about one run, built once per run (DeliveryContent), and the bodies
of the three HTTP channels: the signed webhook's JSON (contract section 6), a Slack Block Kit
message and a Microsoft Teams Adaptive Card, each with the download links as buttons."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

# Slack: at most 25 elements in an actions block, 75 characters of button text, 3000 of URL.
_SLACK_MAX_BUTTONS = 5
_SLACK_BUTTON_TEXT = 75


@dataclass(frozen=True)
class FileLink:
    format: str
    file_name: str
    file_size: int | None
    download_url: str
    # Opens the stored file for reading (binary); the SFTP and S3 channels copy it from here.
    open: Callable[[], AbstractContextManager[IO[bytes]]] | None = field(
        default=None, compare=False, repr=False
    )

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "file_name": self.file_name,
            "file_size": self.file_size,
            "download_url": self.download_url,
        }


@dataclass(frozen=True)
class DeliveryContent:
    run: dict[str, Any]  # the history record as the API shows it
    files: tuple[FileLink, ...]
    business_name: str
    schedule_name: str
    title: str  # "Sales export (Excel)"
    period: str | None = None  # "2026-11", "2026-W48", ...
    record_count: int | None = None
    protected: bool = False  # the files are password-protected zips
    test: bool = False  # a "send a test" from the schedule form

    @property
    def headline(self) -> str:
        prefix = "[Test] " if self.test else ""
        return f"{prefix}{self.title}: {self.schedule_name}"

    def facts(self) -> list[tuple[str, str]]:
        rows = [("Business", self.business_name), ("Schedule", self.schedule_name)]
        if self.period:
            rows.append(("Period", self.period))
        if self.record_count is not None:
            rows.append(("Records", f"{self.record_count:,}"))
        if self.protected:
            rows.append(("Files", "password-protected (the password is not sent here)"))
        return rows


def webhook_body(content: DeliveryContent) -> bytes:
    """The exact bytes that are signed and sent."""
    document = {
        "event": "export.completed",
        "run": content.run,
        "files": [link.as_json() for link in content.files],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats &, < and > as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button_label(file_name: str, limit: int) -> str:
    label = f"Download {file_name}"
    return label if len(label) <= limit else label[: limit - 1] + "…"


def slack_message(content: DeliveryContent) -> dict[str, Any]:
    """An incoming-webhook message: `text` (notifications, old clients) and Block Kit blocks."""
    facts = content.facts()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": content.headline[:150]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)}"} for name, value in facts[:10]
            ],
        },
    ]
    buttons = [
        {
            "type": "button",
            "text": {
                "type": "plain_text",
                "text": _button_label(link.file_name, _SLACK_BUTTON_TEXT),
            },
            "url": link.download_url,
        }
        for link in content.files[:_SLACK_MAX_BUTTONS]
    ]
    if buttons:
        buttons[0]["style"] = "primary"
        blocks.append({"type": "actions", "elements": buttons})
    summary = ", ".join(f"{name}: {value}" for name, value in facts[1:])
    return {"text": _slack_escape(f"{content.headline} ({summary})"), "blocks": blocks}


def teams_message(content: DeliveryContent) -> dict[str, Any]:
    """A Teams incoming-webhook message carrying one Adaptive Card (1.4)."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": content.headline,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [{"title": name, "value": value} for name, value in content.facts()],
            },
        ],
        "actions": [
            {
                "type": "Action.OpenUrl",
                "title": _button_label(link.file_name, 80),
                "url": link.download_url,
            }
            for link in content.files
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
