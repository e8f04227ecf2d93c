"""runs: a failure category and a test-send flag on export_history

Revision ID: b8e4d1c7a2f5
Revises: b8d3e5f1a2c7
Create Date: 2026-12-05 10:45:00.000000

``failure_category`` says what kind of failure a FAILED run had (storage, database, data, ...),
set where it happened instead of guessed later from the message. ``is_test`` marks a test send: it
is mailed to its starter only and is never the schedule's last run.
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types  # noqa: F401  (portable UUID, JSON and UTC datetime types)


# revision identifiers, used by Alembic.
revision = "b8e4d1c7a2f5"
down_revision = "b8d3e5f1a2c7"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch mode): SQLite would rebuild the table and lose its count triggers
    # (e3c1a9b7d2f4).
    op.add_column("export_history", sa.Column("failure_category", sa.String(length=16), nullable=True))
    op.add_column(
        "export_history",
        sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+ and PostgreSQL) keeps the count triggers.
    op.execute("ALTER TABLE export_history DROP COLUMN is_test")
    op.execute("ALTER TABLE export_history DROP COLUMN failure_category")
