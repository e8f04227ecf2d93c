"""Fixtures for the operator features: an operator token, a real SMTP server, a seeded business."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard import demo
from dashboard.extensions import db
from dashboard.models import Business, Membership, User
from tests.delivery.conftest import SmtpServer, free_port

OPS_TOKEN = "ops-token-for-tests-0123456789abcdef"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> int:
    return free_port()  # nothing listens there


def seeded_business(name: str = "Corner Café", sales: int = 40):
    demo.seed_business(name, sales=sales, timezone="Europe/London", slug=name.lower().replace(" ", "-"))
    business = db.session.scalar(select(Business).where(Business.name == name))
    owner = User(email=f"owner@{business.id.hex[:8]}.example.com", name="Olive Owner")
    db.session.add_all([owner, Membership(user=owner, business=business, role="owner")])
    db.session.commit()
    return business, owner
