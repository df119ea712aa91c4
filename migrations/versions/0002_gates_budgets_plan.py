"""Quality gates and Web Vitals budgets per project, flaky score per test, the run's plan.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("quality_gates", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("vitals_budgets", sa.JSON(), nullable=True))
    with op.batch_alter_table("tests") as batch:
        batch.add_column(sa.Column("flaky_score", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("plan", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("plan")
    with op.batch_alter_table("tests") as batch:
        batch.drop_column("flaky_score")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("vitals_budgets")
        batch.drop_column("quality_gates")
