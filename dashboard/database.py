"""Engine set-up that every dialect needs: SQLite in WAL mode with a busy timeout."""

from __future__ import annotations

import atexit

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dashboard import read_only_requests
from dashboard.core import fast_json
from dashboard.extensions import db


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception:  # an in-memory database has no WAL; nothing to do
        pass
    cursor.close()


def configure_engine_options(app: Flask) -> None:
    """Called before db.init_app(): Flask-SQLAlchemy builds its engine from these options."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # JSON columns decoded by orjson (dashboard/core/fast_json.py): a page of runs holds 120 of them.
    options.setdefault("json_deserializer", fast_json.loads)
    if uri.startswith("sqlite"):
        options.setdefault("connect_args", {})
        options["connect_args"].setdefault("timeout", 30)
        options["connect_args"].setdefault("check_same_thread", False)
        if uri in ("sqlite://", "sqlite:///:memory:"):
            from sqlalchemy.pool import StaticPool

            options["poolclass"] = StaticPool
    else:
        options.setdefault("pool_size", app.config.get("DB_POOL_SIZE", 5))
        options.setdefault("max_overflow", app.config.get("DB_MAX_OVERFLOW", 10))
        options.setdefault("pool_timeout", app.config.get("DB_POOL_TIMEOUT", 30))
        options.setdefault("pool_recycle", app.config.get("DB_POOL_RECYCLE", 1800))
        if uri.startswith("postgresql"):
            options.setdefault("connect_args", {})
            options["connect_args"].setdefault("connect_timeout", app.config.get("DB_CONNECT_TIMEOUT", 10))
            # psycopg prepares a statement run this many times on a connection (0: never; behind
            # PgBouncer in transaction mode without max_prepared_statements). read_only_requests.py.
            threshold = int(app.config.get("DB_PREPARE_THRESHOLD", 5) or 0)
            options["connect_args"].setdefault("prepare_threshold", threshold or None)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def init_app(app: Flask) -> None:
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        read_only_requests.init_app(app, engine)


def close_at_exit(app: Flask) -> None:
    """Close the app's pooled database connections when the process ends, not leave them to the
    garbage collector: app.py freezes what starting made (gc.freeze), and the engines hang from
    it. A SQLite file is then whole when a command returns (its write-ahead log checked in, so a
    plain copy of the file has everything) and PostgreSQL sees each connection end cleanly."""

    def close() -> None:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()

    atexit.register(close)
