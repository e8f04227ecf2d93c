"""The destination channel interface: declared fields (which are secret), a target label for the
history, the checks made when a destination is saved, and deliver()."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from dashboard.destinations.content import DeliveryContent
from dashboard.destinations.outbound import OutboundPolicy

CHANNELS: dict[str, type[Channel]] = {}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    required: bool = True
    secret: bool = False  # write-only: never returned, kept when an update leaves it out
    type: type = str
    default: Any = None
    max_length: int = 2000


@dataclass(frozen=True)
class SendContext:
    """What one delivery attempt needs besides the content."""

    policy: OutboundPolicy
    idempotency_key: str  # "<run id>:<destination index>"
    clock: Callable[[], float] = time.time


class Channel:
    kind: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[FieldSpec, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "kind", None):
            CHANNELS[cls.kind] = cls

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return tuple(spec.name for spec in cls.fields if spec.secret)

    def target(self, config: dict[str, Any]) -> str:
        """Where it goes, as the history shows it: never a secret."""
        raise NotImplementedError

    def check(self, config: dict[str, Any], policy: OutboundPolicy) -> dict[str, Any]:
        """Checks made when the destination is saved (raise DestinationError); returns values to
        store besides the user's (the SFTP host key fingerprint pinned now)."""
        return {}

    def deliver(self, content: DeliveryContent, config: dict[str, Any], send: SendContext) -> None:
        """Deliver once; raise DestinationError (retryable or not) when it did not arrive."""
        raise NotImplementedError


def get_channel(kind: str) -> Channel:
    try:
        return CHANNELS[kind]()
    except KeyError:
        raise KeyError(f"Unknown destination kind {kind!r}.") from None
