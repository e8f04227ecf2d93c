"""Every page, at 1280 and 375 px, as owner and as manager: no console error, no failed request, no
CSP violation, no serious or critical axe-core violation, nothing wider than the phone, and every
navigation link reachable on the phone.

The pages are found the way a person finds them: from the home page, every same-site link is
followed (one page per URL shape: ids and query strings folded), so pages added later are walked
without a change here. A few htmx interactions that once logged errors (the schedule form's
preview, the history filters) are exercised too. One browser, one context per person.

WALK_REPORT=path writes what was found per page to a JSON file instead of failing (used to measure
a tree before its fixes).
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import pytest

from tests.browser.browser_helpers import DESKTOP, PHONE, SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAX_PAGES = 40
SKIP_LINKS = re.compile(r"^/(api|static|d)/|/download|/logout|/file$")
ID_LIKE = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|/\d+(?=/|$)")
BLOCKING = ("serious", "critical")


@dataclass
class PageReport:
    problems: list[str] = field(default_factory=list)
    axe: dict[str, list[str]] = field(default_factory=dict)  # width -> ["rule (impact) x nodes"]


def _shape(path: str) -> str:
    return re.sub(r"^/join/[^/]+", "/join/{token}", ID_LIKE.sub("/{id}", path))


def _seed_runs(live_server) -> str:
    """A schedule and two finished runs, so the schedule and run pages exist to be walked; and an
    invitation, whose page (/join/...) is returned."""
    from dashboard.extensions import db
    from dashboard.models import Business, ExportHistory, Membership, User
    from dashboard.services import invitations
    from dashboard.services import schedules as schedule_service

    with live_server.app_context():
        business = db.session.query(Business).filter_by(name=live_server.people.business_name).one()
        owner = db.session.query(User).filter_by(email=live_server.people.owner_email).one()
        schedule = schedule_service.create_schedule(
            business,
            owner,
            {
                "name": "Walk: daily sales",
                "export_type": "SALES",
                "format": "excel",
                "frequency": "DAILY",
                "hour": 7,
                "recipients": ["walk@example.com"],
                "filters": {"date_range": "yesterday"},
            },
        )
        now = datetime.now(UTC)
        for status, error in (("COMPLETED", ""), ("FAILED", "The export folder is not a folder.")):
            db.session.add(
                ExportHistory(
                    business_id=business.id,
                    schedule_id=schedule.id,
                    schedule_name=schedule.name,
                    user_id=owner.id,
                    export_type="SALES",
                    format="excel",
                    trigger="SCHEDULED",
                    status=status,
                    error_message=error,
                    created_at=now - timedelta(hours=2),
                    started_at=now - timedelta(hours=2),
                    completed_at=now - timedelta(hours=2) + timedelta(seconds=40),
                    record_count=120 if status == "COMPLETED" else 0,
                    filters_applied={"start_date": "2026-12-01", "end_date": "2026-12-01"},
                )
            )
        invited = Membership(
            user=User(email="walk.invitee@bakery.example.com", password_hash=""),
            business=business,
            role="manager",
        )
        db.session.add(invited)
        db.session.commit()
        return "/join/" + invitations.make_token(invited)


class Walker:
    def __init__(self, page, base_url: str):
        self.page = page
        self.base = base_url
        self.events: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.events.append(f"page error: {exc}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("dialog", lambda dialog: dialog.dismiss())

    def _console(self, message) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.events.append(f"console {message.type}: {message.text}")

    def _request_failed(self, request) -> None:
        # ERR_ABORTED is the browser cancelling a request itself (a navigation moved on before the
        # favicon or a prefetch finished), not an answer of ours: the server's failures arrive as
        # statuses (_response) or as connection errors, which still count.
        if request.failure == "net::ERR_ABORTED":
            return
        self.events.append(f"request failed: {request.method} {request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.events.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def visit(self, path: str) -> list[str]:
        self.events = []
        self.page.goto(path)
        self.page.wait_for_load_state("networkidle")
        return list(self.events)

    def links(self) -> list[str]:
        hrefs = self.page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        found = []
        for href in hrefs:
            url = urlsplit(urljoin(self.page.url, href))
            if url.netloc and url.netloc != urlsplit(self.base).netloc:
                continue
            if not url.path or SKIP_LINKS.search(url.path):
                continue
            found.append(url.path)
        return found

    def axe(self, axe) -> tuple[list[str], list[str]]:
        """(every violation, the serious or critical ones), as "rule (impact) x nodes"."""
        results = axe.run(self.page).response
        every, blocking = [], []
        for violation in results["violations"]:
            line = f"{violation['id']} ({violation['impact']}) x{len(violation['nodes'])}"
            every.append(line)
            if violation["impact"] in BLOCKING:
                targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
                blocking.append(f"{line}: {violation['help']} at {targets}")
        return every, blocking

    def phone_layout(self) -> list[str]:
        problems = []
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            problems.append(f"{overflow}px wider than the phone")
        hidden = self.page.evaluate(
            """() => [...document.querySelectorAll('nav[aria-label=Main] a')]
                  .filter(a => { const r = a.getBoundingClientRect();
                                 return r.width === 0 || r.left < 0 || r.right > window.innerWidth; })
                  .map(a => a.textContent.trim())"""
        )
        if hidden:
            problems.append(f"navigation links out of reach on the phone: {hidden}")
        return problems


def _use(walker: Walker) -> list[str]:
    """What a page does as it is used, without changing anything: every visible button that fetches
    a piece of the page (hx-get: add a recipient, a form's next fields), and the first choice of
    every form that answers as it changes (filters, the schedule preview). Each once logged console
    errors ("hx-disabled-elt ... returned no matches")."""
    page = walker.page
    walker.events = []
    buttons = page.locator("main button[hx-get]")
    for index in range(min(buttons.count(), 5)):
        button = buttons.nth(index)
        if button.is_visible() and button.is_enabled():
            button.click()
            page.wait_for_load_state("networkidle")
    live_forms = page.locator("main form[hx-trigger*=change], main form:has([hx-trigger*=change])")
    for index in range(min(live_forms.count(), 3)):
        select = live_forms.nth(index).locator("select").first
        if select.count() and select.is_visible() and select.locator("option").count() > 1:
            select.select_option(index=1)
            page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    return list(walker.events)


def _walk(context, base_url: str, email: str | None, axe, reports: dict, public: list[str]) -> None:
    page = context.new_page()
    walker = Walker(page, base_url)
    who = "owner" if email and "owner" in email else "manager" if email else "signed out"
    if email:
        page.set_viewport_size(DESKTOP)
        sign_in(page, email)
        queue = ["/"]
    else:
        queue = list(public)
    seen_shapes: set[str] = set()
    while queue and len(seen_shapes) < MAX_PAGES:
        path = queue.pop(0)
        shape = _shape(path)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        report = reports[f"{who} {shape}"]
        for label, size in (("1280", DESKTOP), ("375", PHONE)):
            page.set_viewport_size(size)
            events = walker.visit(path)
            if "/login" in page.url and email:
                report.problems.append(f"{label}: sent to sign in")
                break
            report.problems += [f"{label}: {event}" for event in events]
            every, blocking = walker.axe(axe)
            report.axe[label] = every
            report.problems += [f"{label}: axe {line}" for line in blocking]
            if label == "375":
                report.problems += [f"375: {problem}" for problem in walker.phone_layout()]
            if os.environ.get("WALK_SCREENSHOTS"):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^a-z0-9]+", "-", f"walk {who} {shape}".lower()).strip("-")
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
            report.problems += [f"{label}: while used: {e}" for e in _use(walker)]
            if label == "1280":
                queue += [link for link in walker.links() if _shape(link) not in seen_shapes]
    page.close()


def test_every_page_at_both_widths_as_owner_and_manager(browser, live_server):
    from axe_playwright_python.sync_playwright import Axe

    join_page = _seed_runs(live_server)
    axe = Axe()
    reports: dict[str, PageReport] = defaultdict(PageReport)
    for email in (None, live_server.people.owner_email, live_server.people.manager_email):
        context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
        context.set_default_timeout(15_000)
        try:
            _walk(context, live_server.url, email, axe, reports, ["/login", join_page])
        finally:
            context.close()

    walked = sorted(reports)
    out = os.environ.get("WALK_REPORT")
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({key: vars(reports[key]) for key in walked}, handle, indent=1)
        return
    for needed in (
        "signed out /join/{token}",
        "owner /",
        "owner /people/",
        "owner /account",
        "owner /statistics/",
        "manager /history/",
    ):
        assert needed in reports, f"the walk never reached {needed}: {walked}"
    problems = [f"{key}: {problem}" for key in walked for problem in reports[key].problems]
    assert not problems, f"{len(problems)} problem(s) on {len(walked)} pages:\n" + "\n".join(problems)
