"""Small helpers shared by the delivery tests."""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import urlsplit

LINK = re.compile(r"http://localhost/d/[A-Za-z0-9_.\-]+")


def text_part(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_part(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def attachments(message: EmailMessage) -> list:
    return list(message.iter_attachments())


def link_in(message: EmailMessage) -> str:
    found = LINK.findall(text_part(message))
    assert found, "no download link in the text part"
    assert found[0] in html_part(message), "the HTML part carries another link"
    return found[0]


def path_of(url: str) -> str:
    return urlsplit(url).path
