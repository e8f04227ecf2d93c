"""fair dispatch: each business's last run start in one index seek

Revision ID: f4a7c2e9b1d3
Revises: 5d2f8a61c3e7
Create Date: 2026-12-05 08:00:00.000000

The dispatcher (dashboard/automation/fairness.py) serves the business whose last run started
longest ago first: max(started_at) per waiting business, which without this index read every
history row of the business (100,000 for a large one) on each dispatch.
"""

from alembic import op
import sqlalchemy as sa  # noqa: F401
import dashboard.models.types  # noqa: F401  (portable UUID, JSON and UTC datetime types)


# revision identifiers, used by Alembic.
revision = "f4a7c2e9b1d3"
down_revision = "5d2f8a61c3e7"
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX (no batch mode): the table keeps its count triggers (e3c1a9b7d2f4).
    op.create_index("ix_export_history_business_started", "export_history", ["business_id", "started_at"])


def downgrade():
    op.drop_index("ix_export_history_business_started", table_name="export_history")
