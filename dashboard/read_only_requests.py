"""PostgreSQL: a request that only read ends its transaction with COMMIT, so that the driver keeps
its prepared statements.

psycopg prepares a statement on the server once a connection has run it DB_PREPARE_THRESHOLD
times (5), and PostgreSQL then parses and plans it no more: the history list's statement cost
about 0.25 ms of planning on every request. But psycopg forgets every prepared statement of a
connection on ROLLBACK (a rollback may have undone the DDL they depend on), and every request
ended with one: the session's close and the pool's reset both roll back. A transaction that
wrote nothing ends the same either way, so one that only read is committed at the end of the
request, and the pool's rollback then finds no transaction and leaves the statements alone.

Anything else still ends with a rollback as before: a request that raised, a session with
changes not yet flushed, and a transaction that sent any statement but a SELECT (marked on the
connection as it is sent, and unmarked when the transaction ends).
"""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dashboard.extensions import db

log = logging.getLogger(__name__)

_WROTE = "request_wrote"


def _note_write(conn, cursor, statement: str, parameters, context, executemany) -> None:
    if not statement.startswith("SELECT"):
        conn.info[_WROTE] = True


def _forget_write(conn) -> None:
    # An invalidated connection (the server went away) has no info to read: asking for it would
    # reconnect mid-rollback, and its next connection starts with info of its own.
    if not conn.invalidated:
        conn.info.pop(_WROTE, None)


def _commit_if_read_only(exc: BaseException | None) -> None:
    if exc is not None or not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    try:
        connection = session.connection()
        if connection.invalidated or connection.info.get(_WROTE):
            return
        session.commit()
    except Exception:  # the connection died meanwhile: what follows rolls back, as it always did
        log.debug("could not end a read-only transaction with COMMIT", exc_info=True)
        try:
            session.rollback()
        except Exception:  # the session's removal, next, discards the connection
            log.debug("could not roll back either", exc_info=True)


def init_app(app: Flask, engine: Engine) -> None:
    """On PostgreSQL only (SQLite does not prepare statements, and does not BEGIN to read)."""
    if engine.dialect.name != "postgresql":
        return
    event.listen(engine, "before_cursor_execute", _note_write)
    event.listen(engine, "commit", _forget_write)
    event.listen(engine, "rollback", _forget_write)
    app.teardown_request(_commit_if_read_only)
