"""POS external ids: customers and audit entries remember the POS's own id (flask pos import)

Revision ID: a4d2f0c9e7b1
Revises: f4a7c2e9b1d3
Create Date: 2026-12-05 08:00:00.000000

Sales are matched on their receipt number and products on their SKU (both already unique per
business); customers and audit entries had no key of the POS's, so a second import of the same file
would have doubled them. Nullable: rows written by the dashboard or the demo have none. Additive:
the previous release runs on this schema unchanged.
"""

from alembic import op
import sqlalchemy as sa


revision = "a4d2f0c9e7b1"
down_revision = "f4a7c2e9b1d3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_customers_business_external", ["business_id", "external_id"])
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_audit_logs_business_external", ["business_id", "external_id"])


def downgrade():
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_logs_business_external", type_="unique")
        batch_op.drop_column("external_id")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_customers_business_external", type_="unique")
        batch_op.drop_column("external_id")
