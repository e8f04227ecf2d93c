"""Finding a timezone by what people type: "London", "new york", "UK" -> Europe/London.

The form's timezone box searches here as it is typed, and a city typed whole is read as its zone
("London" saves Europe/London), so nobody has to know IANA's "Region/City" spelling.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from dashboard.services.validation import is_timezone_name

# Words people use for a zone that its IANA name does not contain.
ALIASES: dict[str, str] = {
    "uk": "Europe/London",
    "britain": "Europe/London",
    "england": "Europe/London",
    "scotland": "Europe/London",
    "wales": "Europe/London",
    "ireland": "Europe/Dublin",
    "germany": "Europe/Berlin",
    "france": "Europe/Paris",
    "spain": "Europe/Madrid",
    "italy": "Europe/Rome",
    "netherlands": "Europe/Amsterdam",
    "eastern": "America/New_York",
    "central": "America/Chicago",
    "mountain": "America/Denver",
    "pacific": "America/Los_Angeles",
    "india": "Asia/Kolkata",
    "japan": "Asia/Tokyo",
    "china": "Asia/Shanghai",
    "singapore": "Asia/Singapore",
    "sydney": "Australia/Sydney",
}
_LEGACY_PREFIXES = ("Etc/", "SystemV/", "US/", "posix/", "right/", "Canada/", "Brazil/", "Mexico/", "Chile/")


def _words(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("/", " ").lower().split())


@lru_cache(maxsize=1)
def _places() -> tuple[tuple[str, str, str], ...]:
    """(IANA name, its city in words, the whole name in words) for the usual Region/City zones."""
    from zoneinfo import available_timezones

    names = sorted(
        name
        for name in available_timezones()
        if "/" in name and not name.startswith(_LEGACY_PREFIXES) and is_timezone_name(name)
    )
    return tuple((name, _words(name.rsplit("/", 1)[-1]), _words(name)) for name in names)


def city(name: str) -> str:
    return name.rsplit("/", 1)[-1].replace("_", " ")


def utc_offset(name: str, now: datetime | None = None) -> str:
    """ "UTC+01:00" as the zone stands at `now`."""
    offset = (now or datetime.now(UTC)).astimezone(ZoneInfo(name)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def search_timezones(query: str, limit: int = 8) -> list[str]:
    """IANA names matching `query`: its alias, then cities starting with it, then names containing it."""
    wanted = _words(query or "")
    if not wanted:
        return []
    found: list[str] = []
    if wanted in ALIASES:
        found.append(ALIASES[wanted])
    starts = [name for name, town, _ in _places() if town.startswith(wanted)]
    contains = [name for name, town, whole in _places() if wanted in whole and not town.startswith(wanted)]
    for name in (*starts, *contains):
        if name not in found:
            found.append(name)
    return found[:limit]


def resolve_timezone(text: str) -> str | None:
    """The zone a typed value means: an IANA name as it is, else a city or alias typed whole."""
    text = (text or "").strip()
    if is_timezone_name(text):
        return text
    wanted = _words(text)
    if wanted in ALIASES:
        return ALIASES[wanted]
    exact = [name for name, town, _ in _places() if town == wanted]
    return exact[0] if len(exact) == 1 else None
