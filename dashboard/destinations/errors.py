"""The errors a destination raises; their messages are shown to users in the run's history."""

from __future__ import annotations


class DestinationError(Exception):
    """A delivery to a destination failed. `retryable`: worth trying again later (a timeout, a
    5xx, a refused connection); not for a refused address, a 4xx or a wrong password."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class OutboundRefused(DestinationError):
    """The address is not one this deployment may reach (scheme, private or metadata address).
    Raised before any connection is attempted."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# Defined in core (the secret box lives there, below the storage that zips protected files).
from dashboard.core.secrets import SecretUnreadable  # noqa: E402,F401
