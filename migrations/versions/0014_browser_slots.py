"""Browser server slots in the database: a server's `#n` is n rows that every Sentri process serving
this database leases from, so two replicas together never put more than n tests on it. Self-contained: it
only adds a table.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "browser_slots",
        sa.Column("server", sa.String(length=64), primary_key=True),
        sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("endpoint", sa.String(length=300), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("worker", sa.Integer(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
    )


def downgrade():
    op.drop_table("browser_slots")
