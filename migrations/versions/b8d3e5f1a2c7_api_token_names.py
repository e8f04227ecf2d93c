"""API token names: owners name the tokens they create on the People page

Revision ID: b8d3e5f1a2c7
Revises: b8d3e5f1a2c6
Create Date: 2026-12-05 10:45:00.000000

A list of tokens must say which is which ("Accounting sync"). Additive, with a server default, so
the previous release runs on this schema unchanged and existing tokens read as unnamed.
"""

from alembic import op
import sqlalchemy as sa


revision = "b8d3e5f1a2c7"
down_revision = "b8d3e5f1a2c6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=100), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("name")
