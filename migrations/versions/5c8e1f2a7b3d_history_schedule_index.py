"""history: one schedule's runs, newest first, from one index

Revision ID: 5c8e1f2a7b3d
Revises: e3c1a9b7d2f4
Create Date: 2026-12-05 08:20:00.000000

The history's schedule filter (`?schedule_id=`) read the runs through the unique
(schedule_id, occurrence_at) index, fetched each row from the table and sorted them all by
created_at to show 20 (SQLite: "SEARCH ... USING INDEX uq (schedule_id=?)" then "USE TEMP B-TREE
FOR ORDER BY"), and counted them the same way. ix_export_history_schedule_created
(schedule_id, business_id, created_at, id) answers the page, its cursor and its count from the
index alone ("SEARCH ... USING COVERING INDEX ix_export_history_schedule_created (schedule_id=?
AND business_id=?)"). It replaces ix_export_history_schedule_status (schedule_id, status), which
no query used (deleting a schedule finds its runs by the unique index's schedule_id prefix), so
inserting a run maintains as many indexes as before.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "5c8e1f2a7b3d"
down_revision = "e3c1a9b7d2f4"
branch_labels = None
depends_on = None


# Plain op.create_index/drop_index, not batch_alter_table: on SQLite a batch that recreated
# export_history would drop the history-count triggers (models/history_counts.py).
def upgrade():
    op.drop_index("ix_export_history_schedule_status", table_name="export_history")
    op.create_index(
        "ix_export_history_schedule_created",
        "export_history",
        ["schedule_id", "business_id", "created_at", "id"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_export_history_schedule_created", table_name="export_history")
    op.create_index(
        "ix_export_history_schedule_status", "export_history", ["schedule_id", "status"], unique=False
    )
