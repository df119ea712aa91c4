"""A failed result's Playwright trace.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("trace", sa.String(length=512), nullable=True))


def downgrade():
    with op.batch_alter_table("results") as batch:
        batch.drop_column("trace")
