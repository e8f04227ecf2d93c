"""Tenant isolation and roles over the whole URL map: pages, htmx partials and the JSON API.

Every rule of `app.url_map` must be classified in ROUTES below, with exactly the methods it accepts.
A new route, or a new method on an old one, fails `test_every_route_is_classified` until someone
decides what it is: public, for any member, for owners only, or taking the id of a schedule, a run
or a signed link. From that table the cases are generated:

* id-taking routes, every method, as users of ANOTHER business (owner and manager, by session, by
  htmx and by API token): 404, byte for byte the answer to a random id (so nobody can tell that the
  object exists), and not one row of any table changed;
* owner-only routes, every method, as a manager (session, htmx, token): 403, nothing changed;
* every route that needs a sign-in, every method, anonymously: the sign-in page (web) or 401 (API),
  the same for a real id and a random one, nothing changed;
* signed links with forged tokens (another record re-signed with a wrong key, a random token):
  the same 404 page, nothing changed.

Then every id route is called once by the object's own business (a control: the ids and bodies used
above are real, so a 404 above is a refusal and not a typo).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from tests.security.security_helpers import (
    DESTINATION_ID,
    HX,
    MEASURED,
    answer_diff,
    bearer,
    db_snapshot,
    login,
    normalized,
    schedule_form,
    schedule_payload,
    snapshot_diff,
)

PUBLIC = "public"  # no sign-in needed; holds no business data
SIGNED_IN = "signed-in"  # any member of the current business; takes no id
OWNER_ONLY = "owner-only"  # owners of the current business; a manager gets 403
SCHEDULE_ID = "schedule-id"  # takes the id of one of the business's schedules
HISTORY_ID = "history-id"  # takes the id of one of the business's runs
PRESET_ID = "preset-id"  # takes the id of one of the business's saved presets
SIGNED_LINK = "signed-link"  # /d/<token>: no sign-in, the signed token is the credential
# /unsubscribe/<token>: no sign-in; the token signs a schedule and one of its outside recipients
UNSUBSCRIBE_LINK = "unsubscribe-link"
OBJECT_ID = (SCHEDULE_ID, HISTORY_ID, PRESET_ID)
MEMBER_ID = "member-id"  # owners only: takes the id of one of the business's memberships
TOKEN_ID = "token-id"  # owners only: takes the id of one of the business's API tokens
INVITE_LINK = "invite-link"  # /join/<token>: no sign-in, the signed invitation is the credential
OWNER_ID_TAKING = (MEMBER_ID, TOKEN_ID)
ID_TAKING = (*OBJECT_ID, SIGNED_LINK, UNSUBSCRIBE_LINK, *OWNER_ID_TAKING, INVITE_LINK)


@dataclass(frozen=True)
class Route:
    access: str
    methods: frozenset[str]
    why: str = ""


def R(access: str, *methods: str, why: str = "") -> Route:  # noqa: N802  (reads as a table)
    return Route(access, frozenset(methods), why)


# The table. Adding a route to the app means adding a line here (and thinking about who may call it).
ROUTES: dict[str, Route] = {
    # Public
    "static": R(PUBLIC, "GET", why="CSS, JavaScript, vendored htmx"),
    "health.healthz": R(PUBLIC, "GET", why="liveness; ok only (details for the operator token)"),
    "health.readyz": R(PUBLIC, "GET", why="readiness; ok/error only (details for the operator token)"),
    "health.version": R(PUBLIC, "GET", why="the release version (details for the operator token)"),
    "metrics.metrics": R(PUBLIC, "GET", why="operator token (OPS_TOKEN), no business data"),
    "auth.login": R(PUBLIC, "GET", "POST", why="throttled per account and per address"),
    "auth.logout": R(PUBLIC, "POST", why="signing out needs no sign-in"),
    "api_openapi.openapi_json": R(PUBLIC, "GET", why="describes the API, holds no business data"),
    # Pages and partials for any member
    "home.index": R(SIGNED_IN, "GET"),
    "auth.switch": R(
        SIGNED_IN, "POST", why="a business id in the body: see test_switching_to_a_foreign_business"
    ),
    "schedules.index": R(SIGNED_IN, "GET"),
    "schedules.new": R(SIGNED_IN, "GET", "POST"),
    "schedules.form_timing": R(SIGNED_IN, "GET"),
    "schedules.form_filters": R(SIGNED_IN, "GET"),
    "schedules.form_recipient": R(SIGNED_IN, "GET"),
    "schedules.preview": R(SIGNED_IN, "POST"),
    "schedules.validate_recipient": R(SIGNED_IN, "GET"),
    "schedules.form_timezones": R(SIGNED_IN, "GET"),
    "schedules.save_preset": R(SIGNED_IN, "POST", why="saves in the signed-in member's own business"),
    "exports.new": R(SIGNED_IN, "GET", "POST"),
    "history.index": R(SIGNED_IN, "GET", why="schedule_id filter: see test_foreign_ids_in_query_strings"),
    # Pages that take an id
    "schedules.edit": R(SCHEDULE_ID, "GET", "POST"),
    "schedules.activate": R(SCHEDULE_ID, "POST"),
    "schedules.deactivate": R(SCHEDULE_ID, "POST"),
    "schedules.delete": R(SCHEDULE_ID, "POST"),
    "schedules.run_now": R(SCHEDULE_ID, "POST"),
    "schedules.send_test": R(SCHEDULE_ID, "POST"),
    "history.detail": R(HISTORY_ID, "GET"),
    "history.row": R(HISTORY_ID, "GET"),
    "history.status": R(HISTORY_ID, "GET"),
    "history.download": R(HISTORY_ID, "GET"),
    "history.rerun": R(HISTORY_ID, "POST"),
    "schedules.page": R(SCHEDULE_ID, "GET"),
    "schedules.rerun_run": R(HISTORY_ID, "POST", why="retry or run again from a schedule's timeline"),
    # Owners' pages
    "statistics.index": R(OWNER_ONLY, "GET"),
    "settings.notifications": R(OWNER_ONLY, "GET", "POST"),
    # Signed links from e-mails
    "downloads.page": R(SIGNED_LINK, "GET"),
    "downloads.file": R(SIGNED_LINK, "GET"),
    # One-click unsubscribe (issue 19): the signed token names the schedule and the address
    "unsubscribe.page": R(UNSUBSCRIBE_LINK, "GET"),
    "unsubscribe.remove": R(UNSUBSCRIBE_LINK, "POST", why="RFC 8058: mail clients POST without a CSRF token"),
    # The schedule form's destinations (issue 19)
    "destinations.new_row": R(SIGNED_IN, "GET"),
    "destinations.send_test": R(SCHEDULE_ID, "POST"),
    "api_destinations.test_destination": R(SCHEDULE_ID, "POST"),
    # The JSON API
    "api_schedules.list_schedules": R(SIGNED_IN, "GET"),
    "api_schedules.create_schedule": R(SIGNED_IN, "POST"),
    "api_schedules.upcoming": R(SIGNED_IN, "GET"),
    "api_schedules.overdue": R(SIGNED_IN, "GET"),
    "api_schedules.preview": R(SIGNED_IN, "POST"),
    "api_schedules.retrieve": R(SCHEDULE_ID, "GET"),
    "api_schedules.update": R(SCHEDULE_ID, "PUT", "PATCH"),
    "api_schedules.delete": R(SCHEDULE_ID, "DELETE"),
    "api_schedules.activate": R(SCHEDULE_ID, "POST"),
    "api_schedules.deactivate": R(SCHEDULE_ID, "POST"),
    "api_schedules.trigger": R(SCHEDULE_ID, "POST"),
    "api_history.list_history": R(SIGNED_IN, "GET"),
    "api_history.recent": R(SIGNED_IN, "GET"),
    "api_history.retrieve": R(HISTORY_ID, "GET"),
    "api_history.download": R(HISTORY_ID, "GET"),
    "api_history.rerun": R(HISTORY_ID, "POST"),
    "api_history.statistics": R(OWNER_ONLY, "GET"),
    "api_notifications.get_settings": R(OWNER_ONLY, "GET"),
    "api_notifications.update_settings": R(OWNER_ONLY, "PUT", "PATCH"),
    "api_exports.start_export": R(SIGNED_IN, "POST"),
    "api_recipes.recipes": R(SIGNED_IN, "GET", why="the same catalogue for every business"),
    "api_recipes.list_presets": R(SIGNED_IN, "GET"),
    "api_recipes.create_preset": R(SIGNED_IN, "POST"),
    "api_recipes.retrieve_preset": R(PRESET_ID, "GET"),
    "api_recipes.delete_preset": R(PRESET_ID, "DELETE"),
    # People (owners), the account (everyone), invitations (the signed link)
    "favicon": R(PUBLIC, "GET", why="the icon"),
    "people.index": R(OWNER_ONLY, "GET"),
    "people.invite": R(OWNER_ONLY, "POST"),
    "people.create_token": R(OWNER_ONLY, "POST"),
    "people.change_role": R(MEMBER_ID, "POST"),
    "people.remove": R(MEMBER_ID, "POST"),
    "people.resend": R(MEMBER_ID, "POST"),
    "people.revoke_token": R(TOKEN_ID, "POST"),
    "account.index": R(SIGNED_IN, "GET"),
    "account.change_password": R(SIGNED_IN, "POST", why="needs the current password"),
    "account.sign_out_everywhere": R(SIGNED_IN, "POST", why="the caller's own sessions only"),
    "account.join": R(INVITE_LINK, "GET", "POST"),
    "api_members.list_members": R(OWNER_ONLY, "GET"),
    "api_members.invite_member": R(OWNER_ONLY, "POST"),
    "api_members.get_member": R(MEMBER_ID, "GET"),
    "api_members.update_member": R(MEMBER_ID, "PATCH", "PUT"),
    "api_members.remove_member": R(MEMBER_ID, "DELETE"),
    "api_members.resend_invitation": R(MEMBER_ID, "POST"),
    "api_tokens.list_tokens": R(OWNER_ONLY, "GET"),
    "api_tokens.create_token": R(OWNER_ONLY, "POST"),
    "api_tokens.revoke_token": R(TOKEN_ID, "DELETE"),
    "api_me.me": R(SIGNED_IN, "GET"),
    "api_me.change_password": R(SIGNED_IN, "POST", "PUT", why="needs the current password"),
    "api_me.sign_out_everywhere": R(SIGNED_IN, "POST", why="the caller's own sessions only"),
}

# Bodies that would change something if the request got through: a refusal is then meaningful.
WEB_FORMS: dict[str, dict] = {
    "schedules.edit": schedule_form(),
    "schedules.new": schedule_form(),
    "exports.new": {"export_type": "INVENTORY", "format": "csv", "recipients": ["attacker@example.com"]},
    "settings.notifications": {
        "notify_on_success": "y",
        "default_recipients": "attacker@example.com",
        "from_name": "Hijacked",
    },
    "schedules.preview": {"frequency": "DAILY", "hour": "3", "minute": "0", "timezone": "UTC"},
    "schedules.save_preset": {"preset_name": "Planted", "export_type": "INVENTORY", "format": "csv"},
    "people.invite": {"email": "attacker@example.com", "role": "owner"},
    "people.change_role": {"role": "owner"},
    "people.create_token": {"name": "Planted"},
}
API_BODIES: dict[tuple[str, str], Any] = {
    ("api_schedules.update", "PUT"): schedule_payload(name="Hijacked", recipients=["attacker@example.com"]),
    ("api_schedules.update", "PATCH"): {"name": "Hijacked", "recipients": ["attacker@example.com"]},
    ("api_schedules.trigger", "POST"): {"send_email": True, "override_recipients": ["attacker@example.com"]},
    ("api_schedules.create_schedule", "POST"): schedule_payload(name="Planted"),
    ("api_schedules.preview", "POST"): {"frequency": "DAILY", "hour": 3},
    ("api_notifications.update_settings", "PUT"): {"default_recipients": ["attacker@example.com"]},
    ("api_notifications.update_settings", "PATCH"): {"notify_on_success": True},
    ("api_exports.start_export", "POST"): {"export_type": "INVENTORY", "format": "csv"},
    ("api_recipes.create_preset", "POST"): {"name": "Planted", "export_type": "INVENTORY"},
    ("api_members.invite_member", "POST"): {"email": "attacker@example.com", "role": "owner"},
    ("api_members.update_member", "PATCH"): {"role": "owner"},
    ("api_members.update_member", "PUT"): {"role": "owner"},
    ("api_tokens.create_token", "POST"): {"name": "Planted"},
}
MALFORMED_IDS = ("not-a-uuid", "1", "0", "-1", "%27%20OR%201%3D1--")


def _methods(rule) -> frozenset[str]:
    return frozenset(rule.methods - {"HEAD", "OPTIONS"})


def _rules(app):
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def _is_api(rule) -> bool:
    return rule.rule.startswith("/api/")


def _url(rule, value: str | None) -> str:
    """The rule's path with its one argument set to `value` (a string, not validated)."""
    path = rule.rule
    while "<" in path:
        start = path.index("<")
        end = path.index(">", start)
        argument = path[start + 1 : end].split(":")[-1]
        # A schedule's destination (issue 19): the world's schedules each have one with this id.
        part = DESTINATION_ID if argument == "destination_id" else value
        path = path[:start] + (part if part is not None else f"{{{argument}}}") + path[end + 1 :]
    return path


# --------------------------------------------------------------------------------------------


def test_every_route_is_classified(app):
    problems = []
    seen = set()
    for rule in _rules(app):
        seen.add(rule.endpoint)
        route = ROUTES.get(rule.endpoint)
        if route is None:
            problems.append(
                f"new route {rule.rule} ({rule.endpoint}, {sorted(_methods(rule))}) is not classified: "
                "add it to ROUTES in tests/security/test_isolation_table.py"
            )
            continue
        if _methods(rule) != route.methods:
            problems.append(
                f"{rule.rule} ({rule.endpoint}) accepts {sorted(_methods(rule))} but is classified "
                f"for {sorted(route.methods)}: classify the new method"
            )
        if rule.arguments and route.access not in ID_TAKING and rule.endpoint != "static":
            problems.append(f"{rule.rule} takes {sorted(rule.arguments)} but is classified {route.access}")
        # One id per route; a schedule's destination id comes with its schedule's (issue 19).
        if route.access in ID_TAKING and len(rule.arguments - {"destination_id"}) != 1:
            problems.append(f"{rule.rule} is classified {route.access} but takes {sorted(rule.arguments)}")
    for endpoint in sorted(set(ROUTES) - seen):
        problems.append(f"ROUTES names {endpoint}, which is no longer in the URL map: remove it")
    assert not problems, "\n".join(problems)


@dataclass
class Caller:
    name: str
    client: Any
    headers: dict
    api: bool  # sends JSON


class Table:
    """Runs the cases, collects every failure (one report for all of them) and counts the cases."""

    def __init__(self):
        self.failures: list[str] = []
        self.cases: Counter = Counter()  # (access, role) -> cases
        self.routes: set[tuple[str, str]] = set()

    def call(self, caller: Caller, method: str, url: str, endpoint: str):
        # A message flashed by an earlier case would show on whichever page renders next: drop it,
        # so that two answers differ only by what the request itself caused.
        with caller.client.session_transaction() as state:
            state.pop("_flashes", None)
        kwargs: dict[str, Any] = {"method": method, "headers": dict(caller.headers)}
        if caller.api:
            body = API_BODIES.get((endpoint, method))
            if body is None and method in ("POST", "PUT", "PATCH"):
                body = {}
            if body is not None:
                kwargs["json"] = body
        elif method != "GET":
            kwargs["data"] = WEB_FORMS.get(endpoint, {})
        return caller.client.open(url, **kwargs)

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.failures.append(message)


def _anonymous_refusal(response, api: bool) -> bool:
    if api:
        return response.status_code == 401 and response.is_json
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


@pytest.mark.slow
def test_isolation_table(app, world, capsys):
    a, b = world.a, world.b
    targets = _targets(world)

    def session(user):
        return login(app.test_client(), user.email)

    b_owner, b_manager, a_manager = session(b.owner), session(b.manager), session(a.manager)
    plain = app.test_client()
    foreign_callers = {
        "web": [
            Caller("other business owner (session)", b_owner, {}, False),
            Caller("other business manager (session)", b_manager, {}, False),
            Caller("other business owner (htmx)", b_owner, HX, False),
        ],
        "api": [
            Caller("other business owner (token)", plain, bearer(b.tokens["owner"]), True),
            Caller("other business manager (token)", plain, bearer(b.tokens["manager"]), True),
            Caller("other business owner (session)", b_owner, {}, True),
        ],
    }
    manager_callers = {
        "web": [
            Caller("manager (session)", a_manager, {}, False),
            Caller("manager (htmx)", a_manager, HX, False),
        ],
        "api": [
            Caller("manager (token)", plain, bearer(a.tokens["manager"]), True),
            Caller("manager (session)", a_manager, {}, True),
        ],
    }

    table = Table()
    baseline = db_snapshot()

    def unchanged(context: str) -> None:
        nonlocal baseline
        after = db_snapshot()
        diff = snapshot_diff(baseline, after)
        table.check(not diff, f"{context} changed the database: {diff}")
        baseline = after  # report each change once, against the case that made it

    for rule in _rules(app):
        route = ROUTES[rule.endpoint]
        kind = "api" if _is_api(rule) else "web"
        for method in sorted(route.methods):
            if route.access in (*OBJECT_ID, *OWNER_ID_TAKING):
                real, random_id = str(targets[route.access]), str(uuid.uuid4())
                # Owners' id routes check the role first: another business's manager gets 403, the
                # same 403 for a real id as for a random one (nothing is told either way).
                owners_only = route.access in OWNER_ID_TAKING
                for caller in foreign_callers[kind]:
                    refused = 403 if owners_only and "manager" in caller.name else 404
                    table.routes.add((rule.rule, method))
                    table.cases[(route.access, caller.name)] += 1
                    context = f"{method} {rule.rule} as {caller.name}"
                    foreign = table.call(caller, method, _url(rule, real), rule.endpoint)
                    unchanged(context + " with a foreign id")
                    missing = table.call(caller, method, _url(rule, random_id), rule.endpoint)
                    unchanged(context + " with a random id")
                    table.check(
                        foreign.status_code == refused, f"{context}: foreign id -> {foreign.status_code}"
                    )
                    table.check(
                        normalized(foreign, real) == normalized(missing, random_id),
                        f"{context}: the foreign id's answer differs from a missing id's:\n"
                        + answer_diff(normalized(foreign, real), normalized(missing, random_id)),
                    )
                    for malformed in MALFORMED_IDS:
                        response = table.call(caller, method, _url(rule, malformed), rule.endpoint)
                        table.check(
                            response.status_code in (404, refused),
                            f"{context}: malformed id {malformed!r} -> {response.status_code}",
                        )
                    unchanged(context + " with malformed ids")
                if owners_only:
                    for caller in manager_callers[kind]:
                        table.routes.add((rule.rule, method))
                        table.cases[(route.access, caller.name)] += 1
                        context = f"{method} {rule.rule} as {caller.name}"
                        response = table.call(caller, method, _url(rule, real), rule.endpoint)
                        table.check(response.status_code == 403, f"{context} -> {response.status_code}")
                        unchanged(context)
            elif route.access == OWNER_ONLY:
                for caller in manager_callers[kind]:
                    table.routes.add((rule.rule, method))
                    table.cases[(route.access, caller.name)] += 1
                    context = f"{method} {rule.rule} as {caller.name}"
                    response = table.call(caller, method, rule.rule, rule.endpoint)
                    table.check(response.status_code == 403, f"{context} -> {response.status_code}")
                    table.check(response.is_json == (kind == "api"), f"{context}: wrong kind of answer")
                    unchanged(context)
            elif route.access == SIGNED_LINK:
                # A's run signed with another key (an attacker's guess at our key) and a random token.
                forged = make_download_token_with_key(app, a.run, "not-the-secret-key")
                random_token = make_download_token_with_key(app, a.run, str(uuid.uuid4()))[::-1]
                for caller in (
                    Caller("anonymous link holder", plain, {}, False),
                    Caller("other business owner (session)", b_owner, {}, False),
                ):
                    table.routes.add((rule.rule, method))
                    table.cases[(route.access, caller.name)] += 1
                    context = f"{method} {rule.rule} as {caller.name}"
                    forged_answer = table.call(caller, method, _url(rule, forged), rule.endpoint)
                    random_answer = table.call(caller, method, _url(rule, random_token), rule.endpoint)
                    table.check(
                        forged_answer.status_code == 404, f"{context}: forged -> {forged_answer.status_code}"
                    )
                    table.check(
                        normalized(forged_answer, forged) == normalized(random_answer, random_token),
                        f"{context}: a forged link to a real record answers unlike a random one:\n"
                        + answer_diff(
                            normalized(forged_answer, forged), normalized(random_answer, random_token)
                        ),
                    )
                    table.check(
                        a.run.file_name not in forged_answer.get_data(as_text=True),
                        f"{context}: the forged link's page names the file",
                    )
                    unchanged(context)

            elif route.access == UNSUBSCRIBE_LINK:
                # A's schedule and recipient signed with another key, and a random token.
                recipient = a.schedule.recipients[0]
                forged = make_unsubscribe_token_with_key(a.schedule, recipient, "not-the-secret-key")
                random_token = make_unsubscribe_token_with_key(a.schedule, recipient, str(uuid.uuid4()))[::-1]
                for caller in (
                    Caller("anonymous link holder", plain, {}, False),
                    Caller("other business owner (session)", b_owner, {}, False),
                ):
                    table.routes.add((rule.rule, method))
                    table.cases[(route.access, caller.name)] += 1
                    context = f"{method} {rule.rule} as {caller.name}"
                    forged_answer = table.call(caller, method, _url(rule, forged), rule.endpoint)
                    random_answer = table.call(caller, method, _url(rule, random_token), rule.endpoint)
                    table.check(
                        forged_answer.status_code == 404, f"{context}: forged -> {forged_answer.status_code}"
                    )
                    table.check(
                        normalized(forged_answer, forged) == normalized(random_answer, random_token),
                        f"{context}: a forged unsubscribe link answers unlike a random one",
                    )
                    table.check(
                        a.schedule.name not in forged_answer.get_data(as_text=True),
                        f"{context}: the forged link's page names the schedule",
                    )
                    unchanged(context)

            elif route.access == INVITE_LINK:
                forged = _invitation_with_key(app, targets[INVITE_LINK], "not-the-secret-key")
                random_token = forged[::-1]
                for caller in (
                    Caller("anonymous link holder", plain, {}, False),
                    Caller("other business owner (session)", b_owner, {}, False),
                ):
                    table.routes.add((rule.rule, method))
                    table.cases[(route.access, caller.name)] += 1
                    context = f"{method} {rule.rule} as {caller.name}"
                    forged_answer = table.call(caller, method, _url(rule, forged), rule.endpoint)
                    random_answer = table.call(caller, method, _url(rule, random_token), rule.endpoint)
                    table.check(
                        forged_answer.status_code == 404, f"{context}: forged -> {forged_answer.status_code}"
                    )
                    table.check(
                        normalized(forged_answer, forged) == normalized(random_answer, random_token),
                        f"{context}: a forged invitation answers unlike a random one",
                    )
                    unchanged(context)

            if route.access not in (PUBLIC, SIGNED_LINK, UNSUBSCRIBE_LINK, INVITE_LINK):
                # Anonymous: the sign-in page or 401, for a real id exactly as for a random one.
                caller = Caller("anonymous", plain, {}, kind == "api")
                table.routes.add((rule.rule, method))
                table.cases[(route.access, caller.name)] += 1
                context = f"{method} {rule.rule} anonymously"
                if rule.arguments:
                    real, random_id = str(targets[route.access]), str(uuid.uuid4())
                    answer = table.call(caller, method, _url(rule, real), rule.endpoint)
                    other = table.call(caller, method, _url(rule, random_id), rule.endpoint)
                    table.check(
                        normalized(answer, real) == normalized(other, random_id),
                        f"{context}: a real id answers unlike a random one:\n"
                        + answer_diff(normalized(answer, real), normalized(other, random_id)),
                    )
                else:
                    answer = table.call(caller, method, rule.rule, rule.endpoint)
                table.check(_anonymous_refusal(answer, kind == "api"), f"{context} -> {answer.status_code}")
                unchanged(context)

    _controls(app, world, table)

    size = sum(table.cases.values())
    by_access = Counter()
    for (access, _), count in table.cases.items():
        by_access[access] += count
    roles = sorted({role for _, role in table.cases})
    MEASURED["isolation"] = {
        "routes": len({r for r, _ in table.routes}),
        "route_methods": len(table.routes),
        "roles": len(roles),
        "cases": size,
        "by_access": dict(by_access),
        "failures": len(table.failures),
    }
    with capsys.disabled():
        print(
            f"\n[security] isolation table: {len({r for r, _ in table.routes})} routes, "
            f"{len(table.routes)} route x method pairs, {len(roles)} roles -> {size} cases "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(by_access.items()))}); "
            f"failures: {len(table.failures)}"
        )
    assert not table.failures, "\n".join(table.failures)
    # Everything that takes an id or needs a role is in the table.
    id_or_role = {
        (rule.rule, m)
        for rule in _rules(app)
        for m in ROUTES[rule.endpoint].methods
        if ROUTES[rule.endpoint].access in (*ID_TAKING, OWNER_ONLY)
    }
    assert id_or_role <= table.routes


def _targets(world) -> dict[str, Any]:
    """Business A's objects that the id routes are aimed at: a schedule, a run, its manager's
    membership, an API token of its own (revoking it spoils no caller's token), an invitation."""
    from sqlalchemy import select

    from dashboard.auth.tokens import new_token
    from dashboard.extensions import db
    from dashboard.models.pos import Membership, User

    a = world.a
    manager = db.session.scalar(select(Membership).where(Membership.user_id == a.manager.id))
    owner = db.session.scalar(select(Membership).where(Membership.user_id == a.owner.id))
    token, _ = new_token(owner, name="Target")
    invited_user = User(email=f"invited-{uuid.uuid4().hex[:6]}@example.com", password_hash="")
    invited = Membership(user=invited_user, business_id=a.business.id, role="manager")
    db.session.add_all([invited_user, invited])
    db.session.commit()
    return {
        SCHEDULE_ID: a.schedule.id,
        HISTORY_ID: a.run.id,
        PRESET_ID: a.preset.id,
        MEMBER_ID: manager.id,
        TOKEN_ID: token.id,
        INVITE_LINK: invited,
    }


def _invitation_with_key(app, membership, key: str) -> str:
    from itsdangerous import URLSafeTimedSerializer

    from dashboard.services.invitations import SALT

    payload = {"m": str(membership.id), "u": str(membership.user_id), "v": 1}
    return URLSafeTimedSerializer(key, salt=SALT).dumps(payload)


def make_download_token_with_key(app, run, key: str) -> str:
    """A download token for `run` signed with `key` instead of the app's SECRET_KEY."""
    from itsdangerous import URLSafeTimedSerializer

    from dashboard.storage.links import SALT

    return URLSafeTimedSerializer(key, salt=SALT).dumps({"h": str(run.id), "b": str(run.business_id)})


def make_unsubscribe_token_with_key(schedule, address: str, key: str) -> str:
    """An unsubscribe token for (`schedule`, `address`) signed with `key`, not the app's SECRET_KEY."""
    from itsdangerous import URLSafeSerializer

    from dashboard.delivery.unsubscribe_links import SALT

    return URLSafeSerializer(key, salt=SALT).dumps({"s": str(schedule.id), "e": address.lower()})


def _controls(app, world, table: Table) -> None:
    """The object's own business reaches every id route (so the refusals above are refusals)."""
    from dashboard.storage.links import make_download_token

    a = world.a
    owner = login(app.test_client(), a.owner.email)
    token_client = Caller("owner (token)", app.test_client(), bearer(a.tokens["owner"]), True)
    web_owner = Caller("owner (session)", owner, {}, False)
    targets = _targets(world)
    # They remove what later calls aim at: run them at the end.
    last = {
        "schedules.delete",
        "api_schedules.delete",
        "api_recipes.delete_preset",
        "people.remove",
        "api_members.remove_member",
    }
    rules = sorted(
        (r for r in _rules(app) if ROUTES[r.endpoint].access in (*OBJECT_ID, *OWNER_ID_TAKING)),
        key=lambda r: (r.endpoint in last, r.rule),
    )
    deleted: set[str] = set()  # the kinds of object already deleted by a control
    for rule in rules:
        caller = token_client if _is_api(rule) else web_owner
        for method in sorted(ROUTES[rule.endpoint].methods):
            if ROUTES[rule.endpoint].access in deleted:
                continue
            url = _url(rule, str(targets[ROUTES[rule.endpoint].access]))
            response = table.call(caller, method, url, rule.endpoint)
            table.check(
                response.status_code not in (403, 404) and response.status_code < 500,
                f"control: {method} {url} as the owner -> {response.status_code}",
            )
            if rule.endpoint in last:
                deleted.add(ROUTES[rule.endpoint].access)
    from dashboard.services.invitations import make_token

    for rule in _rules(app):
        if ROUTES[rule.endpoint].access == INVITE_LINK:
            url = _url(rule, make_token(targets[INVITE_LINK]))
            response = app.test_client().get(url)
            table.check(response.status_code == 200, f"control: GET {url} -> {response.status_code}")
        if ROUTES[rule.endpoint].access == SIGNED_LINK:
            url = _url(rule, make_download_token(a.run))
            response = app.test_client().get(url)
            table.check(response.status_code == 200, f"control: GET {url} -> {response.status_code}")
        if ROUTES[rule.endpoint].access == UNSUBSCRIBE_LINK:
            from dashboard.delivery.unsubscribe_links import make_token

            url = _url(rule, make_token(a.schedule.id, a.schedule.recipients[0]))
            response = app.test_client().get(url)
            table.check(response.status_code == 200, f"control: GET {url} -> {response.status_code}")


def test_foreign_ids_in_query_strings_find_nothing(app, world):
    """Ids that arrive as filters instead of path parts: another business's schedule matches nothing."""
    a, b = world.a, world.b
    foreign = str(a.schedule.id)
    api = app.test_client()
    body = api.get(
        f"/api/reports/automation/history/?schedule_id={foreign}", headers=bearer(b.tokens["owner"])
    ).get_json()
    assert body["count"] == 0 and body["results"] == []
    page = login(app.test_client(), b.owner.email).get(f"/history/?schedule_id={foreign}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert a.schedule.name not in text and a.run.file_name not in text and str(a.run.id) not in text


def test_switching_to_a_foreign_business_is_refused(app, world):
    """The business switcher takes a business id in its body: only the user's own businesses count."""
    a, b = world.a, world.b
    client = login(app.test_client(), b.owner.email)
    before = db_snapshot()
    response = client.post("/switch-business", data={"business_id": str(a.business.id)})
    assert response.status_code in (302, 303)
    assert not snapshot_diff(before, db_snapshot())
    with client.session_transaction() as state:
        assert state.get("business_id") != str(a.business.id)
    # Still acting in B: A's schedule is not found, B's is.
    assert client.get(f"/schedules/{a.schedule.id}/edit").status_code == 404
    assert client.get(f"/schedules/{b.schedule.id}/edit").status_code == 200


def test_a_forged_session_business_id_is_ignored(app, world):
    """The session cookie is signed, but even a session naming another business (as after a
    membership is removed) acts only in a business the user belongs to."""
    a, b = world.a, world.b
    client = login(app.test_client(), b.owner.email)
    with client.session_transaction() as state:
        state["business_id"] = str(a.business.id)
    assert client.get(f"/schedules/{a.schedule.id}/edit").status_code == 404
    page = client.get("/schedules/").get_data(as_text=True)
    assert a.schedule.name not in page and b.schedule.name in page
