"""conditions and period figures

Revision ID: c4e8a1f6d2b9
Revises: c2a9e4b7d1f3
Create Date: 2026-12-05 11:25:00.000000

Schedules gain `conditions` (send only when the run's figures pass them; {} = always). Runs gain
`summary` (the period's headline figures beside the previous period's, dashboard/exports/
comparison.py) and `skipped_reason` (why a COMPLETED run sent nothing; "" = it was not skipped).
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types


# revision identifiers, used by Alembic.
revision = "c4e8a1f6d2b9"
down_revision = "c2a9e4b7d1f3"
branch_labels = None
depends_on = None


def upgrade():
    # The "{}" default stays: rows inserted by SQL that predates the column (scripts, bulk
    # inserts) get "always send".
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("conditions", dashboard.models.types.JSONType(), nullable=False, server_default="{}")
        )
    # Plain op.add_column, not batch_alter_table: on SQLite a batch that recreated export_history
    # would drop the history-count triggers (models/history_counts.py). The defaults stay.
    op.add_column(
        "export_history",
        sa.Column("summary", dashboard.models.types.JSONType(), nullable=False, server_default="{}"),
    )
    op.add_column(
        "export_history", sa.Column("skipped_reason", sa.String(length=500), nullable=False, server_default="")
    )


def downgrade():
    op.drop_column("export_history", "skipped_reason")
    op.drop_column("export_history", "summary")
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.drop_column("conditions")
