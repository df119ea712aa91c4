"""Each process says how many browser slots it has: a process finishing a test can then tell that another
one has room, and leave the run's next test to it: a run spreads over the processes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("slots", sa.Integer))


def downgrade():
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("slots")
