"""schedules stamp: businesses.schedules_stamp, moved on by triggers on export_schedules

Revision ID: a8d3f1c5e7b2
Revises: c5f2a8d4e6b9
Create Date: 2026-12-05 23:00:00.000000

The /history filter's schedule names kept by (business, stamp) instead of read on every page
(dashboard/models/schedules_stamp.py explains the triggers). The statements below are a frozen
copy of that module's: this revision must keep creating what it created when it was written.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a8d3f1c5e7b2"
down_revision = "c5f2a8d4e6b9"
branch_labels = None
depends_on = None

SQLITE_DDL = (
    """CREATE TRIGGER export_schedules_stamp_insert AFTER INSERT ON export_schedules BEGIN
    UPDATE businesses SET schedules_stamp = schedules_stamp + 1 WHERE id = NEW.business_id;
END""",
    """CREATE TRIGGER export_schedules_stamp_delete AFTER DELETE ON export_schedules BEGIN
    UPDATE businesses SET schedules_stamp = schedules_stamp + 1 WHERE id = OLD.business_id;
END""",
    """CREATE TRIGGER export_schedules_stamp_rename AFTER UPDATE OF name, business_id ON export_schedules
WHEN OLD.name IS NOT NEW.name OR OLD.business_id IS NOT NEW.business_id BEGIN
    UPDATE businesses SET schedules_stamp = schedules_stamp + 1 WHERE id IN (OLD.business_id, NEW.business_id);
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


def upgrade():
    op.add_column("businesses", sa.Column("schedules_stamp", sa.Integer(), server_default="0", nullable=False))
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DDL if dialect == "sqlite" else POSTGRESQL_DDL if dialect == "postgresql" else ():
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "rename"):
            op.execute(f"DROP TRIGGER IF EXISTS export_schedules_stamp_{name}")
    elif dialect == "postgresql":
        for statement in POSTGRESQL_DROP:
            op.execute(statement)
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild of businesses would drop and copy
    # the table every other table refers to.
    op.drop_column("businesses", "schedules_stamp")
