"""Structured logs: one line per record, as JSON or key=value, carrying the run's context.

An export runs in a worker thread of some process on some host; when something goes wrong, the one
question is "what happened to run X". `log_context(history_id=...)` puts the id on every record logged
inside the block, by this code, SQLAlchemy, boto3 or smtplib alike, because the fields are attached by the
log record factory (not by a handler filter that a library's own handler would miss):

    with log_context(history_id=str(history.id)):
        ...   # every line logged here carries history_id=...

The context lives in a `contextvars.ContextVar`, so two runs in two threads never see each other's id.

`LOG_FORMAT` chooses the output: `json` (one object per line; the production default), `keyvalue`
(`ts=... level=INFO logger=... history_id=... msg="..."`) or `text` (the development default).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("log_context", default=None)

# LogRecord attributes that belong to the logging module, not to a caller's `extra=`.
_RESERVED = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "log_context"}
)
FORMATS = ("json", "keyvalue", "text")


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """Add fields (e.g. history_id) to every log record made inside the block, in this thread only.

    Nested blocks add to (and may override) the outer fields; leaving a block restores them. None
    values are dropped so callers can pass optional ids without checking them.
    """
    merged = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    """The fields that the next log record made in this thread will carry."""
    return dict(_context.get() or {})


_installed_factory = False


def install_record_factory() -> None:
    """Attach the current context to every LogRecord made in this process (idempotent)."""
    global _installed_factory
    if _installed_factory:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        fields = _context.get() or {}
        record.log_context = fields
        for key, value in fields.items():
            # An attribute per field too, so that %(history_id)s works in a plain format string.
            if key not in _RESERVED and not hasattr(record, key):
                setattr(record, key, value)
        return record

    logging.setLogRecordFactory(factory)
    _installed_factory = True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """Context fields plus anything passed with `extra=`, in a stable order."""
    fields = dict(getattr(record, "log_context", None) or {})
    for key, value in vars(record).items():
        if key not in _RESERVED and key not in fields and not key.startswith("_"):
            fields[key] = value
    if record.name == "gunicorn.access" and isinstance(record.args, dict):
        fields.update(access_fields(record.args))
    return fields


def access_fields(atoms: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's access-log atoms as fields a log store can filter on (the message keeps gunicorn's
    combined line). Request headers are among the atoms: only these few are taken, never
    Authorization or cookies."""

    def atom(key: str) -> Any:
        value = atoms.get(key)
        return None if value in (None, "-") else value

    status = atom("s")
    duration = atoms.get("D")
    fields = {
        "method": atom("m"),
        "path": atom("U"),
        "query": atom("q") or None,
        "status": int(status) if str(status or "").isdigit() else status,
        "duration_ms": round(duration / 1000, 3) if isinstance(duration, int | float) else None,
        "bytes": atoms.get("B"),
        "remote_addr": atom("h"),
        "forwarded_for": atom("{x-forwarded-for}i"),
        "user_agent": atom("a"),
        "referer": atom("f"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def _version() -> str:
    from dashboard.core.version import app_version

    return app_version()


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, pid, thread, the context fields, msg, exc."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "thread": record.threadName,
            "version": _version(),
        }
        payload.update(_fields(record))
        payload["msg"] = record.getMessage()
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, default=str, ensure_ascii=False)


def _kv_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\r\t'):
        return json.dumps(text, ensure_ascii=False)  # quoted, with newlines escaped: still one line
    return text


class KeyValueFormatter(logging.Formatter):
    """`ts=... level=INFO logger=... pid=... history_id=... msg="..."` on one line (logfmt)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "version": _version(),
        }
        parts.update(_fields(record))
        parts["msg"] = record.getMessage()
        if record.exc_info or record.exc_text:
            parts["exc"] = record.exc_text or self.formatException(record.exc_info)
        return " ".join(f"{key}={_kv_value(value)}" for key, value in parts.items())


class TextFormatter(logging.Formatter):
    """The development format, with the context fields appended in brackets when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if fields:
            first, _, rest = line.partition("\n")
            extra = " ".join(f"{key}={_kv_value(value)}" for key, value in fields.items())
            line = f"{first} [{extra}]" + (f"\n{rest}" if rest else "")
        return line


def make_formatter(name: str) -> logging.Formatter:
    name = (name or "text").strip().lower()
    if name == "json":
        return JsonFormatter()
    if name in ("keyvalue", "kv", "logfmt"):
        return KeyValueFormatter()
    if name == "text":
        return TextFormatter()
    raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}; got {name!r}.")


_HANDLER_NAME = "dashboard-structured"


def configure_logging(log_format: str | None = None, level: str | None = None) -> None:
    """Send every logger's records to stderr as one structured line each (idempotent).

    Replaces only the handler this function installed earlier, so calling it again (a second app in
    one process, gunicorn's worker after the arbiter) neither doubles lines nor removes handlers that
    others (pytest's caplog, gunicorn's own loggers) attached.
    """
    install_record_factory()
    log_format = log_format or os.environ.get("LOG_FORMAT") or "text"
    level = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(make_formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every job run at INFO (several lines a second per worker with a short poll):
    # keep its warnings and errors unless DEBUG is asked for.
    logging.getLogger("apscheduler").setLevel(level if level == "DEBUG" else "WARNING")


def init_app(app) -> None:
    """Called by create_app(): the record factory always (tests read the fields through caplog), the
    handler outside testing, in the format the configuration names."""
    install_record_factory()
    if app.testing:
        return
    configure_logging(app.config.get("LOG_FORMAT"), app.config.get("LOG_LEVEL"))
