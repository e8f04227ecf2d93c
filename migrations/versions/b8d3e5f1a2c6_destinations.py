"""destinations besides e-mail

Revision ID: b8d3e5f1a2c6
Revises: b7d3e5f1a2c4
Create Date: 2026-12-05 10:50:00.000000

Schedules gain `destinations` (a JSON list, secrets encrypted) and `file_password` (encrypted;
"" = files not protected). Runs gain `destination_delivery`, each destination's result; the
deliveries themselves are outbox rows (mail_messages, by channel).
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types


# revision identifiers, used by Alembic.
revision = "b8d3e5f1a2c6"
down_revision = "b7d3e5f1a2c4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("destinations", dashboard.models.types.JSONType(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("file_password", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.alter_column("destinations", server_default=None)
        batch_op.alter_column("file_password", server_default=None)
    # Plain op.add_column, not batch_alter_table: on SQLite a batch that recreated export_history
    # would drop the history-count triggers (models/history_counts.py). The "[]" default stays.
    op.add_column(
        "export_history",
        sa.Column("destination_delivery", dashboard.models.types.JSONType(), nullable=False, server_default="[]"),
    )

def downgrade():
    op.drop_column("export_history", "destination_delivery")
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.drop_column("file_password")
        batch_op.drop_column("destinations")
