"""outbox rows name their delivery channel

Revision ID: b7d3e5f1a2c4
Revises: b7e4d1c9a2f6
Create Date: 2026-12-05 10:55:00.000000

The outbox (dashboard/delivery/outbox.py) carries every delivery of a run, by e-mail today and by
the channels added beside it (webhook, Slack, SFTP...); each row says which one sends it. Existing
rows are all e-mail.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b7d3e5f1a2c4"
down_revision = "b7e4d1c9a2f6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_messages") as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="email")
        )


def downgrade():
    with op.batch_alter_table("mail_messages") as batch_op:
        batch_op.drop_column("channel")
