"""schedule presets: what to export saved under a name the business reuses

Revision ID: b7e4d1c9a2f6
Revises: a4d2f0c9e7b1
Create Date: 2026-12-05 10:45:00.000000
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types


# revision identifiers, used by Alembic.
revision = "b7e4d1c9a2f6"
down_revision = "a4d2f0c9e7b1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "schedule_presets",
        sa.Column("id", dashboard.models.types.GUID(), nullable=False),
        sa.Column("business_id", dashboard.models.types.GUID(), nullable=False),
        sa.Column("created_by_id", dashboard.models.types.GUID(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("export_type", sa.String(length=16), nullable=False),
        sa.Column("formats", dashboard.models.types.JSONType(), nullable=False),
        sa.Column("filters", dashboard.models.types.JSONType(), nullable=False),
        sa.Column("created_at", dashboard.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business_id", "name", name="uq_schedule_presets_business_name"),
    )
    op.create_index("ix_schedule_presets_business_id", "schedule_presets", ["business_id"])


def downgrade():
    op.drop_index("ix_schedule_presets_business_id", table_name="schedule_presets")
    op.drop_table("schedule_presets")
