from __future__ import annotations

import pytest

from dashboard.destinations.outbound import OutboundPolicy

from .servers import start_receiver


@pytest.fixture
def production_policy() -> OutboundPolicy:
    return OutboundPolicy(allow_private=False, timeout=2.0)


@pytest.fixture
def loopback_policy() -> OutboundPolicy:
    """DESTINATIONS_ALLOW_PRIVATE=1, as tests and development set it."""
    return OutboundPolicy(allow_private=True, timeout=2.0)


@pytest.fixture
def receiver():
    """An HTTP receiver on 127.0.0.1; set `.script` before sending."""
    made, stops = start_receiver()
    yield made
    stops()
