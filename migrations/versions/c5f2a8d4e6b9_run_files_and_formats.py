"""runs: a run can own several files (export_run_files) and schedules and runs take `formats`

Revision ID: c5f2a8d4e6b9
Revises: c4e8a1f6d2b9
Create Date: 2026-12-05 11:00:00.000000

export_run_files holds the files a run produced, one per format (history_id, format), in the order
asked. The existing runs' single files move into it (one INSERT ... SELECT, the same on SQLite and
PostgreSQL); export_history's file_* columns stay and keep repeating the first file.

`formats` (JSON list, `format` first) on export_schedules and export_history; NULL means just
`format`, so existing rows need no rewrite (an UPDATE of every run would also fire the count
triggers once per row).
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types  # noqa: F401  (portable UUID, JSON and UTC datetime types)
from dashboard.models.types import GUID, JSONType


# revision identifiers, used by Alembic.
revision = "c5f2a8d4e6b9"
down_revision = "c4e8a1f6d2b9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "export_run_files",
        sa.Column("history_id", GUID(), nullable=False),
        sa.Column("business_id", GUID(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_path", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(["history_id"], ["export_history.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("history_id", "format"),
    )
    # Statistics add each run's files after its first (position > 0) per format: one seek.
    op.create_index("ix_export_run_files_business_position", "export_run_files", ["business_id", "position"])
    # Plain ADD COLUMN (no batch mode): SQLite would rebuild export_history and lose its count
    # triggers (e3c1a9b7d2f4).
    op.add_column("export_schedules", sa.Column("formats", JSONType(), nullable=True))
    op.add_column("export_history", sa.Column("formats", JSONType(), nullable=True))
    # Every run that produced a file (its path may since have been cleaned up) owns it now.
    op.execute(
        "INSERT INTO export_run_files (history_id, business_id, format, position, file_name, file_size, file_path) "
        "SELECT id, business_id, format, 0, file_name, file_size, file_path FROM export_history "
        "WHERE file_name <> ''"
    )


def downgrade():
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+ and PostgreSQL) keeps the count triggers. A run's
    # first file stays in its file_* columns; the others are forgotten.
    op.execute("ALTER TABLE export_history DROP COLUMN formats")
    op.execute("ALTER TABLE export_schedules DROP COLUMN formats")
    op.drop_table("export_run_files")
