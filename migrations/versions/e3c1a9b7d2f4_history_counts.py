"""history counts: runs per business and (type, format, status, trigger), kept by triggers

Revision ID: e3c1a9b7d2f4
Revises: 7b1e2c4d9a10
Create Date: 2026-12-04 15:00:00.000000

The history list's `count` summed from at most 180 rows a business instead of counting every run
(dashboard/models/history_counts.py explains the triggers). The statements below are a frozen copy
of that module's: this revision must keep creating what it created when it was written. The table
is filled from the runs already there.
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types


# revision identifiers, used by Alembic.
revision = "e3c1a9b7d2f4"
down_revision = "7b1e2c4d9a10"
branch_labels = None
depends_on = None

SQLITE_DDL = (
    """CREATE TRIGGER export_history_counts_insert AFTER INSERT ON export_history BEGIN
    INSERT INTO export_history_counts (business_id, export_type, format, status, "trigger", runs)
    VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
    ON CONFLICT (business_id, export_type, format, status, "trigger") DO UPDATE SET runs = runs + 1;
END""",
    """CREATE TRIGGER export_history_counts_delete AFTER DELETE ON export_history BEGIN
    UPDATE export_history_counts SET runs = runs - 1 WHERE business_id = OLD.business_id AND export_type = OLD.export_type AND format = OLD.format AND status = OLD.status AND "trigger" = OLD."trigger";
END""",
    """CREATE TRIGGER export_history_counts_update
AFTER UPDATE OF business_id, export_type, format, status, "trigger" ON export_history
WHEN OLD.business_id IS NOT NEW.business_id OR OLD.export_type IS NOT NEW.export_type OR OLD.format IS NOT NEW.format OR OLD.status IS NOT NEW.status OR OLD."trigger" IS NOT NEW."trigger" BEGIN
    UPDATE export_history_counts SET runs = runs - 1 WHERE business_id = OLD.business_id AND export_type = OLD.export_type AND format = OLD.format AND status = OLD.status AND "trigger" = OLD."trigger";
    INSERT INTO export_history_counts (business_id, export_type, format, status, "trigger", runs)
    VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
    ON CONFLICT (business_id, export_type, format, status, "trigger") DO UPDATE SET runs = runs + 1;
END""",
)

POSTGRESQL_DDL = (
    """CREATE OR REPLACE FUNCTION export_history_counts_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO export_history_counts AS c (business_id, export_type, format, status, "trigger", runs)
    SELECT business_id, export_type, format, status, "trigger", count(*) FROM new_rows
    GROUP BY business_id, export_type, format, status, "trigger" ORDER BY business_id, export_type, format, status, "trigger"
    ON CONFLICT (business_id, export_type, format, status, "trigger") DO UPDATE SET runs = c.runs + EXCLUDED.runs;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION export_history_counts_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE export_history_counts AS c SET runs = c.runs - gone.runs
    FROM (SELECT business_id, export_type, format, status, "trigger", count(*) AS runs FROM old_rows GROUP BY business_id, export_type, format, status, "trigger") AS gone
    WHERE c.business_id = gone.business_id AND c.export_type = gone.export_type
      AND c.format = gone.format AND c.status = gone.status AND c."trigger" = gone."trigger";
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION export_history_counts_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The two counts rows are locked in key order: two runs moving in opposite directions at
    -- once (PENDING -> PROCESSING, and a hand-back PROCESSING -> PENDING) never deadlock.
    IF (OLD.business_id, OLD.export_type, OLD.format, OLD.status, OLD."trigger") < (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger") THEN
        UPDATE export_history_counts SET runs = runs - 1 WHERE business_id = OLD.business_id AND export_type = OLD.export_type AND format = OLD.format AND status = OLD.status AND "trigger" = OLD."trigger";
        INSERT INTO export_history_counts AS c (business_id, export_type, format, status, "trigger", runs)
        VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
        ON CONFLICT (business_id, export_type, format, status, "trigger") DO UPDATE SET runs = c.runs + 1;
    ELSE
        INSERT INTO export_history_counts AS c (business_id, export_type, format, status, "trigger", runs)
        VALUES (NEW.business_id, NEW.export_type, NEW.format, NEW.status, NEW."trigger", 1)
        ON CONFLICT (business_id, export_type, format, status, "trigger") DO UPDATE SET runs = c.runs + 1;
        UPDATE export_history_counts SET runs = runs - 1 WHERE business_id = OLD.business_id AND export_type = OLD.export_type AND format = OLD.format AND status = OLD.status AND "trigger" = OLD."trigger";
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER export_history_counts_insert AFTER INSERT ON export_history
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION export_history_counts_insert()""",
    """CREATE TRIGGER export_history_counts_delete AFTER DELETE ON export_history
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION export_history_counts_delete()""",
    """CREATE TRIGGER export_history_counts_update
AFTER UPDATE OF business_id, export_type, format, status, "trigger" ON export_history
FOR EACH ROW WHEN (OLD.business_id IS DISTINCT FROM NEW.business_id OR OLD.export_type IS DISTINCT FROM NEW.export_type OR OLD.format IS DISTINCT FROM NEW.format OR OLD.status IS DISTINCT FROM NEW.status OR OLD."trigger" IS DISTINCT FROM NEW."trigger")
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
    """DROP FUNCTION IF EXISTS export_history_counts_insert() CASCADE""",
    """DROP FUNCTION IF EXISTS export_history_counts_delete() CASCADE""",
    """DROP FUNCTION IF EXISTS export_history_counts_update() CASCADE""",
    """DROP FUNCTION IF EXISTS export_history_counts_truncate() CASCADE""",
)

REBUILD_SQL = (
    """DELETE FROM export_history_counts""",
    '''INSERT INTO export_history_counts (business_id, export_type, format, status, "trigger", runs) SELECT business_id, export_type, format, status, "trigger", count(*) FROM export_history GROUP BY business_id, export_type, format, status, "trigger"''',
)


def upgrade():
    op.create_table(
        "export_history_counts",
        sa.Column("business_id", dashboard.models.types.GUID(), nullable=False),
        sa.Column("export_type", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_export_history_counts_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "business_id", "export_type", "format", "status", "trigger", name=op.f("pk_export_history_counts")
        ),
    )
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DDL if dialect == "sqlite" else POSTGRESQL_DDL if dialect == "postgresql" else ():
        op.execute(statement)
    # Filled after the triggers exist, in the same transaction: a run written meanwhile is
    # counted once either way.
    for statement in REBUILD_SQL:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS export_history_counts_{name}")
    elif dialect == "postgresql":
        for statement in POSTGRESQL_DROP:
            op.execute(statement)
    op.drop_table("export_history_counts")
