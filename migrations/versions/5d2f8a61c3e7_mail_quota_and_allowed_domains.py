"""mail quota and allowed recipient domains

Revision ID: 5d2f8a61c3e7
Revises: 5c8e1f2a7b3d
Create Date: 2026-12-05 08:00:00.000000

MAIL_DAILY_LIMIT_PER_BUSINESS: each outbox row records when it took one of its business's daily
slots (`counted_at`, indexed with the business for the rolling 24 h count) and why it is held
(`held_reason`). Notification settings gain `allowed_recipient_domains` (empty: any domain).
"""

from alembic import op
import sqlalchemy as sa
import dashboard.models.types


# revision identifiers, used by Alembic.
revision = "5d2f8a61c3e7"
down_revision = "5c8e1f2a7b3d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counted_at", dashboard.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index("ix_mail_messages_business_counted", ["business_id", "counted_at"], unique=False)
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.alter_column("held_reason", server_default=None)
    with op.batch_alter_table("export_notification_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "allowed_recipient_domains",
                dashboard.models.types.JSONType(),
                nullable=False,
                server_default="[]",
            )
        )
    with op.batch_alter_table("export_notification_settings", schema=None) as batch_op:
        batch_op.alter_column("allowed_recipient_domains", server_default=None)


def downgrade():
    with op.batch_alter_table("export_notification_settings", schema=None) as batch_op:
        batch_op.drop_column("allowed_recipient_domains")
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_messages_business_counted")
        batch_op.drop_column("held_reason")
        batch_op.drop_column("counted_at")
