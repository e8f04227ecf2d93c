"""destinations besides e-mail

Revision ID: b8d3e5f1a2c6
Revises: a4d2f0c9e7b1
Create Date: 2026-12-05 10:50:00.000000

Schedules gain `destinations` (a JSON list, secrets encrypted) and `file_password` (encrypted;
"" = files not protected). `destination_deliveries` is the destination outbox: one row per run and
destination, claimed before each attempt, never sent again once delivered.
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types


# revision identifiers, used by Alembic.
revision = "b8d3e5f1a2c6"
down_revision = "a4d2f0c9e7b1"
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
    op.create_table(
        "destination_deliveries",
        sa.Column("id", dashboard.models.types.GUID(), nullable=False),
        sa.Column("business_id", dashboard.models.types.GUID(), nullable=False),
        sa.Column("history_id", dashboard.models.types.GUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("destination", dashboard.models.types.JSONType(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", dashboard.models.types.UTCDateTime(), nullable=True),
        sa.Column("lease_until", dashboard.models.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at", dashboard.models.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", dashboard.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["history_id"], ["export_history.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("history_id", "position", name="uq_destination_deliveries_run_position"),
    )
    with op.batch_alter_table("destination_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_destination_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_destination_deliveries_history_id"), ["history_id"], unique=False
        )


def downgrade():
    op.drop_table("destination_deliveries")
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.drop_column("file_password")
        batch_op.drop_column("destinations")
