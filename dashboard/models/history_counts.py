"""How many runs each business has, per (export_type, format, status, trigger), kept by the database.

The history list answers `count` on every page. Counting a business's runs costs one index entry
per run (a business with 100,000 runs: ~5 ms on SQLite, ~8 ms on PostgreSQL, on every request);
summing at most 180 rows of this table costs a few microseconds, and answers any filter on those
four columns (`services.history.count_history`). Filters on dates or a schedule still count the
runs themselves.

The database keeps the table, not the application: triggers on export_history add one row's
(business, type, format, status, trigger) on INSERT, move it on an UPDATE of those columns and
take it away on DELETE, so every writer (the runner's Core statements, the ORM, a bulk load, a
cascade from a deleted business) keeps it exact within its own transaction. Decrements only
UPDATE existing rows, so a business deleted in the same statement (its counts go by cascade)
never makes a trigger insert a row for it.

SQLite: row triggers with UPSERT. PostgreSQL: statement triggers over transition tables for
INSERT and DELETE (a bulk insert of 1,000 rows is one grouped upsert, in key order so that two
writers lock the rows in the same order), a row trigger for the rare UPDATE that changes a
counted column (a status change; heartbeats and progress do not fire it), and a TRUNCATE
trigger that empties the counts with the runs (SQLite has no TRUNCATE).

The migration that creates this (e3c1a9b7d2f4) holds a frozen copy of the same statements. SQLite's
batch mode rebuilds a table without its triggers: a later migration that batch-alters
export_history on SQLite must create them again (tests/foundation/test_history_counts.py checks a
migrated database).
"""

# Annotations are evaluated when each class is made (no `from __future__ import annotations`):
# SQLAlchemy would otherwise eval() every Mapped[...] string at start-up (issue 21).

import uuid

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.triggers import install_with_table
from dashboard.models.types import GUID

COUNTED_COLUMNS = ("export_type", "format", "status", "trigger")

_KEY = 'business_id, export_type, format, status, "trigger"'
_MATCH_OLD = (
    "business_id = OLD.business_id AND export_type = OLD.export_type AND format = OLD.format "
    'AND status = OLD.status AND "trigger" = OLD."trigger"'
)
_CHANGED = " OR ".join(
    f"OLD.{c} IS DISTINCT FROM NEW.{c}"
    for c in ("business_id", "export_type", "format", "status", '"trigger"')
)

SQLITE_DDL = (
    f"""CREATE TRIGGER export_history_counts_insert AFTER INSERT ON export_history BEGIN
    INSERT INTO export_history_counts ({_KEY}, runs)
    VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
    ON CONFLICT ({_KEY}) DO UPDATE SET runs = runs + 1;
END""",
    f"""CREATE TRIGGER export_history_counts_delete AFTER DELETE ON export_history BEGIN
    UPDATE export_history_counts SET runs = runs - 1 WHERE {_MATCH_OLD};
END""",
    f"""CREATE TRIGGER export_history_counts_update
AFTER UPDATE OF {_KEY} ON export_history
WHEN {_CHANGED.replace("IS DISTINCT FROM", "IS NOT")} BEGIN
    UPDATE export_history_counts SET runs = runs - 1 WHERE {_MATCH_OLD};
    INSERT INTO export_history_counts ({_KEY}, runs)
    VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
    ON CONFLICT ({_KEY}) DO UPDATE SET runs = runs + 1;
END""",
)

POSTGRESQL_DDL = (
    f"""CREATE OR REPLACE FUNCTION export_history_counts_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO export_history_counts AS c ({_KEY}, runs)
    SELECT {_KEY}, count(*) FROM new_rows
    GROUP BY {_KEY} ORDER BY {_KEY}
    ON CONFLICT ({_KEY}) DO UPDATE SET runs = c.runs + EXCLUDED.runs;
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION export_history_counts_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE export_history_counts AS c SET runs = c.runs - gone.runs
    FROM (SELECT {_KEY}, count(*) AS runs FROM old_rows GROUP BY {_KEY}) AS gone
    WHERE c.business_id = gone.business_id AND c.export_type = gone.export_type
      AND c.format = gone.format AND c.status = gone.status AND c."trigger" = gone."trigger";
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION export_history_counts_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The two counts rows are locked in key order: two runs moving in opposite directions at
    -- once (PENDING -> PROCESSING, and a hand-back PROCESSING -> PENDING) never deadlock.
    IF (OLD.business_id, OLD.export_type, OLD.format, OLD.status, OLD."trigger") < (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger") THEN
        UPDATE export_history_counts SET runs = runs - 1 WHERE {_MATCH_OLD};
        INSERT INTO export_history_counts AS c ({_KEY}, runs)
        VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
        ON CONFLICT ({_KEY}) DO UPDATE SET runs = c.runs + 1;
    ELSE
        INSERT INTO export_history_counts AS c ({_KEY}, runs)
        VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
        ON CONFLICT ({_KEY}) DO UPDATE SET runs = c.runs + 1;
        UPDATE export_history_counts SET runs = runs - 1 WHERE {_MATCH_OLD};
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER export_history_counts_insert AFTER INSERT ON export_history
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION export_history_counts_insert()""",
    """CREATE TRIGGER export_history_counts_delete AFTER DELETE ON export_history
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION export_history_counts_delete()""",
    f"""CREATE TRIGGER export_history_counts_update
AFTER UPDATE OF {_KEY} ON export_history
FOR EACH ROW WHEN ({_CHANGED})
EXECUTE FUNCTION export_history_counts_update()""",
    """CREATE OR REPLACE FUNCTION export_history_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM export_history_counts;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER export_history_counts_truncate AFTER TRUNCATE ON export_history
FOR EACH STATEMENT EXECUTE FUNCTION export_history_counts_truncate()""",
)

POSTGRESQL_DROP = (
    "DROP FUNCTION IF EXISTS export_history_counts_insert() CASCADE",
    "DROP FUNCTION IF EXISTS export_history_counts_delete() CASCADE",
    "DROP FUNCTION IF EXISTS export_history_counts_update() CASCADE",
    "DROP FUNCTION IF EXISTS export_history_counts_truncate() CASCADE",
)

# Rebuild from the runs themselves (the migration's backfill, and `flask exports recount`).
REBUILD_SQL = (
    "DELETE FROM export_history_counts",
    f"INSERT INTO export_history_counts ({_KEY}, runs) "
    f"SELECT {_KEY}, count(*) FROM export_history GROUP BY {_KEY}",
)


class ExportHistoryCount(db.Model):
    """Runs of one business with one (export_type, format, status, trigger); see the module doc."""

    __tablename__ = "export_history_counts"

    business_id: Mapped[uuid.UUID] = mapped_column(
        GUID(), ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    export_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)


# db.create_all() installs the triggers with the table; the migrations with their own frozen copy.
install_with_table("export_history", SQLITE_DDL, POSTGRESQL_DDL, POSTGRESQL_DROP)
