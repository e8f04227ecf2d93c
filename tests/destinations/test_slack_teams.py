"""Slack (Block Kit) and Teams (Adaptive Card) messages: checked against the documented shapes kept
in samples/, and posted to a real receiver on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.destinations.channels import SendContext, get_channel
from dashboard.destinations.content import FileLink, slack_message, teams_message

from .test_webhook import sample_content

pytestmark = pytest.mark.nodb
SAMPLES = Path(__file__).parent / "samples"


def shape_errors(ours, sample, path="$") -> list[str]:
    """Where `ours` departs from `sample`: a key the sample has is missing, a JSON type differs,
    or a list holds an element whose "type" the sample never shows."""
    if isinstance(sample, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected an object"]
        errors = []
        for key, value in sample.items():
            if key not in ours:
                errors.append(f"{path}.{key}: missing")
            else:
                errors += shape_errors(ours[key], value, f"{path}.{key}")
        return errors
    if isinstance(sample, list):
        if not isinstance(ours, list) or not ours:
            return [f"{path}: expected a non-empty list"]
        errors = []
        for index, item in enumerate(ours):
            kind = item.get("type") if isinstance(item, dict) else None
            matches = [s for s in sample if not isinstance(s, dict) or s.get("type") == kind]
            if not matches:
                errors.append(f"{path}[{index}]: type {kind!r} is not in the documented sample")
            else:
                errors += shape_errors(item, matches[0], f"{path}[{index}]")
        return errors
    if sample is None:
        return [] if ours is None else [f"{path}: expected null"]
    return [] if type(ours) is type(sample) else [f"{path}: expected {type(sample).__name__}"]


def test_the_shape_check_itself_catches_departures():
    sample = json.loads((SAMPLES / "slack_incoming_webhook.json").read_text())
    good = slack_message(sample_content())
    assert shape_errors(good, sample) == []
    broken = json.loads(json.dumps(good))
    del broken["blocks"][2]["elements"][0]["url"]
    broken["blocks"].append({"type": "image"})
    assert len(shape_errors(broken, sample)) == 2


def test_slack_message_matches_the_documented_block_kit_shape_and_limits():
    message = slack_message(sample_content())
    sample = json.loads((SAMPLES / "slack_incoming_webhook.json").read_text())
    assert shape_errors(message, sample) == []
    header, section, actions = message["blocks"]
    assert len(header["text"]["text"]) <= 150
    assert len(section["fields"]) <= 10
    assert all(len(f["text"]) <= 2000 for f in section["fields"])
    buttons = actions["elements"]
    assert [b["url"] for b in buttons] == [
        "https://exports.example.com/d/tok1",
        "https://exports.example.com/d/tok2",
    ]
    assert buttons[0]["text"]["text"] == "Download sales_2026-11.xlsx"
    assert all(len(b["text"]["text"]) <= 75 and len(b["url"]) <= 3000 for b in buttons)
    # mrkdwn control characters in user text are escaped.
    schedule_field = next(f["text"] for f in section["fields"] if f["text"].startswith("*Schedule*"))
    assert "&lt;for&gt; the accountant &amp; co" in schedule_field


def test_slack_buttons_are_capped_and_long_names_shortened():
    many = tuple(FileLink("csv", f"{'x' * 90}_{i}.csv", 1, f"https://e.example.com/d/{i}") for i in range(8))
    buttons = slack_message(sample_content(files=many))["blocks"][2]["elements"]
    assert len(buttons) == 5
    assert all(len(b["text"]["text"]) <= 75 for b in buttons)


def test_teams_message_matches_the_documented_adaptive_card_shape():
    message = teams_message(sample_content(protected=True))
    sample = json.loads((SAMPLES / "teams_incoming_webhook.json").read_text())
    assert shape_errors(message, sample) == []
    card = message["attachments"][0]["content"]
    assert [a["url"] for a in card["actions"]] == [
        "https://exports.example.com/d/tok1",
        "https://exports.example.com/d/tok2",
    ]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Records"] == "42"
    assert "password-protected" in facts["Files"]


@pytest.mark.parametrize("kind", ["slack", "teams"])
def test_slack_and_teams_post_their_message_to_the_incoming_webhook(kind, receiver, loopback_policy):
    channel = get_channel(kind)
    channel.deliver(sample_content(test=True), {"url": receiver.url}, SendContext(loopback_policy, "r:1"))
    (got,) = receiver.received
    assert json.loads(got.body) == channel.message(sample_content(test=True))
    assert "[Test]" in got.body.decode()
    assert "X-Export-Signature" not in got.headers
