"""What the browser tests share besides fixtures: the Chromium set-up, signing in, screenshots."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-password-1"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Through the real login page, as a person would."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page, name: str) -> list[Path]:
    """Write `name` at 1280 px and 375 px wide (full page) to tests/artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Toasts fade after a few seconds; one frozen over the page would hide what is being looked at.
    page.evaluate("() => document.querySelectorAll('#toasts .toast').forEach(t => t.remove())")
    written = []
    original = page.viewport_size
    for label, size in (("1280", DESKTOP), ("375", PHONE)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    if original:
        page.set_viewport_size(original)
    return written


def assert_fits(page, width: int = 360) -> None:
    """Nothing on the page is wider than a small phone (the page never scrolls sideways)."""
    original = page.viewport_size
    page.set_viewport_size({"width": width, "height": 740})
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if original:
        page.set_viewport_size(original)
    assert overflow <= 0, f"{page.url} is {overflow}px wider than {width}px"
