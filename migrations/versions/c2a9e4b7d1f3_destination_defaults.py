"""export_schedules: database defaults for destinations and file_password

Revision ID: c2a9e4b7d1f3
Revises: b8e4d1c7a2f5
Create Date: 2026-12-05 12:10:00.000000

b8d3e5f1a2c6 added both columns NOT NULL and then dropped their defaults, so a schedule written by
SQL alone (an import script, an instance still on the previous release during a rolling deploy)
failed with a NOT NULL violation. They default to no destination ("[]") and no password ("") again,
as export_history.destination_delivery already does.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "c2a9e4b7d1f3"
down_revision = "b8e4d1c7a2f5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.alter_column("destinations", server_default="[]")
        batch_op.alter_column("file_password", server_default="")


def downgrade():
    with op.batch_alter_table("export_schedules", schema=None) as batch_op:
        batch_op.alter_column("destinations", server_default=None)
        batch_op.alter_column("file_password", server_default=None)
