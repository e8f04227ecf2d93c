"""Rules about recipient addresses beyond their syntax (issue 15): how many may be sent before any is
looked at, which need SMTPUTF8, which domains a business allows, and how much of a bad value an
error message may echo. Pure functions: no database, no app (the callers bring the settings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "MAX_ALLOWED_DOMAINS",
    "clean_domains",
    "count_addresses",
    "domain_allowed",
    "msg_needs_smtputf8",
    "msg_outside_domains",
    "msg_too_many",
    "needs_smtputf8",
    "outside_domains",
    "shorten",
]

MAX_ALLOWED_DOMAINS = 50
# How much of a value a message quotes: a 200 KB "address" must not come back 200 KB long.
ECHO_LIMIT = 60

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def shorten(value: object, limit: int = ECHO_LIMIT) -> str:
    """The value as a message may quote it: at most `limit` characters, then an ellipsis."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def count_addresses(value: Iterable[object]) -> int:
    """How many distinct entries a list holds (blank strings dropped, case ignored), without
    validating any: cheap enough to run on 40,000 entries before deciding to look at them."""
    distinct: set[str] = set()
    others = 0
    for item in value:
        if isinstance(item, str):
            item = item.strip()
            if item:
                distinct.add(item.lower())
        else:
            others += 1
    return len(distinct) + others


def msg_too_many(limit: int) -> str:
    # The same words as the cap's check after validation (validation.msg_too_many_recipients).
    return f"At most {limit} recipients."


def needs_smtputf8(address: str) -> bool:
    """True when the part before the @ is not ASCII: only a server offering SMTPUTF8 (RFC 6531)
    can take it (a non-ASCII domain is fine: it has an ASCII form, IDNA)."""
    local = address.rsplit("@", 1)[0]
    return not local.isascii()


def msg_needs_smtputf8(address: str) -> str:
    return (
        f"'{shorten(address)}' has letters before the @ that many mail servers cannot deliver "
        "(it needs SMTPUTF8): use an address with only ASCII letters, digits and . _ + - before the @."
    )


def _ascii_domain(domain: str) -> str | None:
    domain = domain.strip().lower().rstrip(".")
    if not domain:
        return None
    try:
        return domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return None


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(domain) <= 253 and len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels)


def clean_domains(value: object) -> tuple[list[str] | None, list[str]]:
    """(the domains, lower-case, de-duplicated, a leading "@" dropped; or None) and the messages
    for what was wrong. null is an empty list (any domain)."""
    if value is None:
        return [], []
    if not isinstance(value, list | tuple):
        return None, ['Enter a list of domain names, for example ["example.com"].']
    if len(value) > MAX_ALLOWED_DOMAINS:
        return None, [f"At most {MAX_ALLOWED_DOMAINS} domains ({len(value):,} were sent)."]
    result: list[str] = []
    problems: list[str] = []
    for item in value:
        text = item.strip().lower().removeprefix("@") if isinstance(item, str) else None
        ascii_form = _ascii_domain(text) if text else None
        if text is None or ascii_form is None or not _valid_domain(ascii_form):
            problems.append(f"'{shorten(item)}' is not a domain name such as example.com.")
            continue
        if text not in result:
            result.append(text)
    return (None if problems else result), problems


def domain_allowed(address: str, domains: Iterable[str]) -> bool:
    """True when `domains` is empty, or the address's domain is one of them or a subdomain of one."""
    domains = list(domains or [])
    if not domains:
        return True
    domain = _ascii_domain(address.rsplit("@", 1)[-1]) if "@" in address else None
    if domain is None:
        return False
    for allowed in domains:
        allowed_ascii = _ascii_domain(allowed)
        if allowed_ascii and (domain == allowed_ascii or domain.endswith("." + allowed_ascii)):
            return True
    return False


def outside_domains(addresses: Iterable[str], domains: Iterable[str]) -> list[str]:
    domains = list(domains or [])
    if not domains:
        return []
    return [a for a in addresses if not domain_allowed(a, domains)]


def msg_outside_domains(address: str, domains: Iterable[str]) -> str:
    return f"{shorten(address)} is outside the domains this business allows ({', '.join(domains)})."
