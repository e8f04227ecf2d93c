"""A business's schedules stamp (`businesses.schedules_stamp`), moved on by the database.

Every /history page offers the business's schedules to filter by, and reading their names was a
statement of its own on every page. The names change only when a schedule is added, removed or
renamed: triggers on export_schedules add one to the business's stamp then, in the writer's own
transaction, whoever writes (the services, a bulk load, a cascade). The signed-in person's
business is read on every request anyway (auth.load_user), stamp included, so the names are kept
by (business, stamp) (`services.schedules.schedule_names`) and read again only when it moved.
Claims and other updates of a schedule (next_run_at, last_run_at, ...) do not fire them.

SQLite: row triggers. PostgreSQL: statement triggers over transition tables for INSERT and DELETE
(a bulk insert is one UPDATE a business), a row trigger for a rename. The UPDATE for a business
deleted by the same statement (a cascade) matches no row and does nothing.

The migration that creates this (a8d3f1c5e7b2) holds a frozen copy of the same statements.
SQLite's batch mode rebuilds a table without its triggers: a later migration that batch-alters
export_schedules on SQLite must create them again.
"""

from __future__ import annotations

from dashboard.models import automation  # noqa: F401 - export_schedules must be in the metadata
from dashboard.models.triggers import install_with_table

_BUMP = "UPDATE businesses SET schedules_stamp = schedules_stamp + 1"

SQLITE_DDL = (
    f"""CREATE TRIGGER export_schedules_stamp_insert AFTER INSERT ON export_schedules BEGIN
    {_BUMP} WHERE id = NEW.business_id;
END""",
    f"""CREATE TRIGGER export_schedules_stamp_delete AFTER DELETE ON export_schedules BEGIN
    {_BUMP} WHERE id = OLD.business_id;
END""",
    f"""CREATE TRIGGER export_schedules_stamp_rename AFTER UPDATE OF name, business_id ON export_schedules
WHEN OLD.name IS NOT NEW.name OR OLD.business_id IS NOT NEW.business_id BEGIN
    {_BUMP} WHERE id IN (OLD.business_id, NEW.business_id);
END""",
)

POSTGRESQL_DDL = (
    """CREATE OR REPLACE FUNCTION export_schedules_stamp_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE businesses SET schedules_stamp = schedules_stamp + 1 WHERE id IN (SELECT business_id FROM new_rows);
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION export_schedules_stamp_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE businesses SET schedules_stamp = schedules_stamp + 1 WHERE id IN (SELECT business_id FROM old_rows);
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION export_schedules_stamp_rename() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE businesses SET schedules_stamp = schedules_stamp + 1 WHERE id IN (OLD.business_id, NEW.business_id);
    RETURN NULL;
END $$""",
    """CREATE TRIGGER export_schedules_stamp_insert AFTER INSERT ON export_schedules
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION export_schedules_stamp_insert()""",
    """CREATE TRIGGER export_schedules_stamp_delete AFTER DELETE ON export_schedules
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION export_schedules_stamp_delete()""",
    """CREATE TRIGGER export_schedules_stamp_rename AFTER UPDATE OF name, business_id ON export_schedules
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.business_id IS DISTINCT FROM NEW.business_id)
EXECUTE FUNCTION export_schedules_stamp_rename()""",
)

POSTGRESQL_DROP = (
    "DROP FUNCTION IF EXISTS export_schedules_stamp_insert() CASCADE",
    "DROP FUNCTION IF EXISTS export_schedules_stamp_delete() CASCADE",
    "DROP FUNCTION IF EXISTS export_schedules_stamp_rename() CASCADE",
)


# db.create_all() installs the triggers with the table; the migrations with their own frozen copy.
install_with_table("export_schedules", SQLITE_DDL, POSTGRESQL_DDL, POSTGRESQL_DROP)
