"""One file per destination kind; `get_channel(kind)` picks the class (each registers itself)."""

from dashboard.destinations.channels import s3, sftp, slack, teams, webhook  # noqa: F401  (register)
from dashboard.destinations.channels.base import CHANNELS, Channel, FieldSpec, SendContext, get_channel

__all__ = ["CHANNELS", "Channel", "FieldSpec", "SendContext", "get_channel"]
