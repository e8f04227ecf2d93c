"""Small things every page shares: the favicon, badge contrast, "Last saved" only after a save."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text(encoding="utf-8")


def test_the_favicon_is_served_where_browsers_ask(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data


def test_pages_name_their_icon(owner):
    html = owner.get("/").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/favicon.svg', html)


def _hex(value: str) -> tuple[float, float, float]:
    value = value.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return tuple(int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))


def _luminance(color: str) -> float:
    channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in _hex(color)]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(foreground: str, background: str) -> float:
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _badge_rules() -> list[tuple[str, str, str]]:
    variables = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", CSS))

    def resolve(value: str) -> str:
        match = re.fullmatch(r"var\(--([\w-]+)\)", value.strip())
        return variables[match.group(1)] if match else value.strip()

    rules = []
    for selectors, body in re.findall(r"([^{}]*\.badge[^{}]*)\{([^}]*)\}", CSS):
        colors = dict(re.findall(r"(?<![-\w])(background|color):\s*([^;]+);", body))
        if "background" in colors and "color" in colors:
            rules.append((selectors.strip(), resolve(colors["color"]), resolve(colors["background"])))
    return rules


def test_every_badge_reads_at_4_5_to_1_at_least():
    rules = _badge_rules()
    assert len(rules) >= 5, rules  # the test reads the stylesheet it means to
    weak = [(s, round(contrast(fg, bg), 2)) for s, fg, bg in rules if contrast(fg, bg) < 4.5]
    assert not weak, f"badges under 4.5:1: {weak}"


@pytest.mark.parametrize("pair,expected", [(("#000000", "#ffffff"), 21.0), (("#767676", "#ffffff"), 4.54)])
def test_the_contrast_formula(pair, expected):
    assert round(contrast(*pair), 2) == expected


def test_last_saved_only_once_someone_saved(owner):
    first = owner.get("/settings/notifications").get_data(as_text=True)
    assert "Last saved" not in first  # a visit creates the defaults; nobody saved them
    assert "Last saved" not in owner.get("/settings/notifications").get_data(as_text=True)
    saved = owner.post(
        "/settings/notifications", data={"notify_on_failure": "y", "from_name": "Shop"}, follow_redirects=True
    )
    assert "Last saved" in saved.get_data(as_text=True)
