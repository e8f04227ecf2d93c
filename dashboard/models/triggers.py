"""Triggers that db.create_all() installs with their table (tests, set-ups without migrations); the
migrations install the same statements from their own frozen copies."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import DDL, event

from dashboard.extensions import db


def install_with_table(
    table_name: str, sqlite: Sequence[str], postgresql: Sequence[str], postgresql_drop: Sequence[str]
) -> None:
    """Create the dialect's statements after `table_name` is created; PostgreSQL's functions are
    dropped with it (SQLite drops a table's triggers itself)."""
    table = db.metadata.tables[table_name]
    for statement in sqlite:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    for statement in postgresql:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))
    for statement in postgresql_drop:
        event.listen(table, "after_drop", DDL(statement).execute_if(dialect="postgresql"))
